"""Softmax outputs in neuron graphs: the outputs that have it share one softmax; δ goes through its Jacobian
(a − t for cross-entropy). Checked against finite differences and PyTorch autograd, in the engine, in `derive`
and in `trace`."""

import contextlib
import io
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from deltaprop.cli import main
from deltaprop.errors import DeltapropError
from deltaprop.explain import symbolic
from deltaprop.explain.gradcheck import numeric_gradients
from deltaprop.files import netfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import equations as E  # noqa: E402


def doc(loss=None, t=(0.0, 1.0, 0.0)):
    return {"inputs": ["1", "2"], "activation": "tanh", "outputs": ["5", "6", "7"],
            "neurons": {"3": {"weights": {"1": 0.4, "2": -0.7}, "bias": 0.1},
                        "4": {"weights": {"1": -0.3, "3": 0.8}},
                        "5": {"activation": "softmax", "weights": {"3": 1.3, "4": -0.6}},
                        "6": {"activation": "softmax", "weights": {"3": 0.5, "2": 0.9}},
                        "7": {"activation": "softmax", "weights": {"4": -1.1, "1": 0.2}, "bias": 0.3}},
            "loss": loss or {"name": "cross_entropy"},
            "sample": {"x": {"1": 0.7, "2": -1.2}, "t": dict(zip(["5", "6", "7"], t))}}


@pytest.mark.parametrize("loss, t", [({"name": "cross_entropy"}, (0.0, 1.0, 0.0)),
                                     ({"name": "cross_entropy"}, (0.2, 0.5, 0.9)),  # targets not summing to 1
                                     ({"formula": "(a - t)**2/2"}, (0.0, 1.0, 0.0)),
                                     ({"formula": "-t*log(a) + a**2"}, (0.3, 0.6, 0.1))])
def test_gradients_against_finite_differences(loss, t):
    d = doc(loss, t)
    net = netfile.graph_from_dict(d)
    X, T = netfile.sample(d, net)
    g = net.loss_and_grads(X, T)
    fw, fb = numeric_gradients(net, X, T)
    assert np.allclose(g.w, fw, atol=1e-8) and np.allclose(g.b, fb, atol=1e-8)


def test_against_torch():
    torch = pytest.importorskip("torch")
    d = doc({"formula": "(a - t)**2/2"})
    net = netfile.graph_from_dict(d)
    X, T = netfile.sample(d, net)
    x = {k: torch.tensor(v, dtype=torch.float64) for k, v in d["sample"]["x"].items()}
    w = {(i, j): torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for j, n in d["neurons"].items() for i, v in n["weights"].items()}
    a = dict(x)
    z = {}
    for j in ["3", "4", "5", "6", "7"]:
        n = d["neurons"][j]
        z[j] = n.get("bias", 0.0) + sum(w[i, j] * a[i] for i in n["weights"])
        if j in ("3", "4"):
            a[j] = torch.tanh(z[j])
    y = torch.softmax(torch.stack([z["5"], z["6"], z["7"]]), 0)
    L = ((y - torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)) ** 2 / 2).sum()
    L.backward()
    g = net.loss_and_grads(X, T)
    for e, (i, j) in enumerate(net.edges):
        assert g.w[e] == pytest.approx(w[i, j].grad.item(), rel=1e-12, abs=1e-15)


def test_refused_where_a_softmax_cannot_be():
    d = doc()
    d["neurons"]["4"]["activation"] = "softmax"  # hidden
    with pytest.raises(DeltapropError, match="couples several neurons, so it is for output neurons only"):
        netfile.graph_from_dict(d)
    d = doc()
    d["neurons"]["7"]["weights"]["5"] = 0.3  # an output fed by a softmax output
    with pytest.raises(DeltapropError, match="feeds another neuron"):
        netfile.graph_from_dict(d)


def cli(*argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([str(a) for a in argv]) == 0
    return out.getvalue()


def test_derive_and_its_worked_solution(tmp_path):
    import tomli_w

    for loss in ({"name": "cross_entropy"}, {"formula": "(a - t)**2/2"}):
        d = doc(loss)
        f = tmp_path / "sm.toml"
        f.write_bytes(tomli_w.dumps(d).encode())
        net = netfile.graph_from_dict(d)
        X, T = netfile.sample(d, net)
        fw, _ = numeric_gradients(net, X, T)
        r = json.loads(cli("derive", f, "--wrt", "w36", "--expanded", "--format", "json"))
        assert r["value"] == pytest.approx(fw[net.edges.index(("3", "6"))], rel=1e-7)
        assert r["expression_value"] == pytest.approx(r["value"], rel=1e-10)
        md = cli("derive", f, "--wrt", "z3", "--format", "markdown")
        if "name" in loss:
            assert "A canonical pair, so the sum is a − t" in md and r"\delta_{6} = a_{6} - t_{6}" in md
        dv = symbolic.Deriver(net, X, T)
        others = [E.reweighted(d, random.Random(2))]
        nets = [netfile.graph_from_dict(o) for o in others]
        there = [E.Values(n, *netfile.sample(o, n), dv, "nielsen") for n, o in zip(nets, others)]
        count, fails = E.check_equations(E.equations(md, ""), E.Values(net, X, T, dv, "nielsen"), there,
                                         E.prime_functions())
        assert count > 10 and not fails, fails


def test_trace_writes_the_jacobian_not_sigma_prime(tmp_path):
    import tomli_w

    d = doc({"formula": "(a - t)**2/2"})
    f = tmp_path / "sm.toml"
    f.write_bytes(tomli_w.dumps(d).encode())
    out = cli("trace", f)
    line = next(s for s in out.splitlines() if s.strip().startswith("δ5 ="))
    num = r"\(?(-?[0-9.e+-]+)\)?"
    m = re.search(rf"= {num} · \({num} − {num}\) = {num}$", line)
    a5, g5, mix, d5 = (float(v) for v in m.groups())
    assert "a5 · (∂L/∂a5 − Σ_m a_m ∂L/∂a_m)" in line
    assert a5 * (g5 - mix) == pytest.approx(d5, rel=1e-4)  # the displayed numbers give the displayed δ
    r = json.loads(cli("trace", f, "--json"))
    net = netfile.graph_from_dict(d)
    X, T = netfile.sample(d, net)
    _, fb = numeric_gradients(net, X, T)
    assert r["neurons"]["5"]["delta"] == pytest.approx(fb[net.neurons.index("5")], rel=1e-7)


def test_layered_trace_header_for_softmax_with_another_loss(tmp_path):
    f = tmp_path / "l.toml"
    f.write_text('inputs = 2\n[[layer]]\nsize = 3\nactivation = "softmax"\n[loss]\nname = "quadratic"\n'
                 "[sample]\nx = [0.5, -1.0]\nt = [0.0, 1.0, 0.0]\n")
    out = cli("trace", f)
    assert "δᴸ = Jᵀ ∇ₐc" in out and "⊙ σ′" not in out.splitlines()[0]
