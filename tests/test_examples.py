"""The seeds' networks in examples/: every number their questions ask for, computed here by hand."""

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from deltaprop.files import netfile
from deltaprop.cli import main
from deltaprop.explain.trace import graph_report

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def cli(*args):
    """The command in this process (a subprocess would import SymPy again each time)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(map(str, args))) == 0
    return out.getvalue()


def sig(v):
    return 1 / (1 + math.exp(-v))


def exam_by_hand():
    """Seed 004's network, forward and the exam's answers (a)–(d), from the numbers in exam_004.toml."""
    x1, x2, t = 0.7, -1.2, 1.5
    w13, w23, b3 = 0.4, -0.7, 0.1
    w14, w24, w34, b4 = -0.3, 0.5, 0.8, -0.2
    w15, w25, w35, b5 = 0.6, 0.2, -0.5, 0.05
    w36, w46, w56, b6 = 1.3, -0.6, 0.9, 0.3
    z3 = w13 * x1 + w23 * x2 + b3
    x3 = sig(z3)
    z4 = w14 * x1 + w24 * x2 + w34 * x3 + b4
    x4 = sig(z4)
    z5 = w15 * x1 + w25 * x2 + w35 * x3 + b5
    x5 = sig(z5)
    z6 = w36 * x3 + w46 * x4 + w56 * x5 + b6
    x6 = z6**2
    L = t / x6 - math.log(t / x6) - 1
    dL_dz6 = 2 * (z6**2 - t) / z6**3  # (a)
    ds = lambda v: sig(v) * (1 - sig(v))  # noqa: E731
    dL_dz3 = dL_dz6 * ds(z3) * (w36 + w34 * w46 * ds(z4) + w35 * w56 * ds(z5))  # (d)
    k = 0.1
    return dict(L=L, z3=z3, z6=z6, x4=x4, dL_dz6=dL_dz6, dL_dw46=dL_dz6 * x4, dL_db6=dL_dz6, dL_dz3=dL_dz3,
                w46_new=w46 - k * dL_dz6 * x4, b6_new=b6 - k * dL_dz6, k=k)


def test_exam_part_a_formula_is_the_derivative():
    sp = pytest.importorskip("sympy")
    z, t = sp.symbols("z t", positive=True)
    x = z**2
    L = t / x - sp.log(t / x) - 1  # the exam's loss with its typo ln(t/n) read as ln(t/x)
    assert sp.simplify(sp.diff(L, z) - 2 * (z**2 - t) / z**3) == 0


def test_exam_trace_json():
    h = exam_by_hand()
    r = json.loads(cli("trace", EX / "exam_004.toml", "--lr", h["k"], "--json"))
    assert r["loss"] == pytest.approx(h["L"], rel=1e-12)
    assert r["neurons"]["6"]["delta"] == pytest.approx(h["dL_dz6"], rel=1e-12)
    assert r["neurons"]["3"]["delta"] == pytest.approx(h["dL_dz3"], rel=1e-12)
    assert r["neurons"]["3"]["z"] == pytest.approx(h["z3"], rel=1e-14)
    assert r["weights"]["4->6"]["grad"] == pytest.approx(h["dL_dw46"], rel=1e-12)
    assert r["weights"]["4->6"]["updated"] == pytest.approx(h["w46_new"], rel=1e-12)
    assert r["biases"]["6"]["grad"] == pytest.approx(h["dL_db6"], rel=1e-12)
    assert r["biases"]["6"]["updated"] == pytest.approx(h["b6_new"], rel=1e-12)
    terms = {c["to"]: c["term"] for c in r["neurons"]["3"]["terms"]}
    assert set(terms) == {"4", "5", "6"}
    assert sum(terms.values()) * r["neurons"]["3"]["sigma_prime"] == pytest.approx(h["dL_dz3"], rel=1e-12)


def test_exam_derive_part_d_expression():
    sp = pytest.importorskip("sympy")
    h = exam_by_hand()
    r = json.loads(cli("derive", EX / "exam_004.toml", "--wrt", "z3", "--expanded", "--format", "json"))
    assert r["value"] == pytest.approx(h["dL_dz3"], rel=1e-12)
    sigma = sp.Function("sigma")
    expr = sp.sympify(r["expression"], locals={"sigma": sigma})  # our own output, trusted in a test
    num = expr.replace(sigma, lambda v: 1 / (1 + sp.exp(-v))).subs(r["symbols"])
    assert float(num) == pytest.approx(h["dL_dz3"], rel=1e-12)
    assert {"w36", "w34", "w46", "w35", "w56", "z3", "z4", "z5", "z6", "t"} == set(r["symbols"])


def test_exam_derive_parts_b_c():
    h = exam_by_hand()
    for wrt, key, new in (("w46", "dL_dw46", "w46_new"), ("b6", "dL_db6", "b6_new")):
        r = json.loads(cli("derive", EX / "exam_004.toml", "--wrt", wrt, "--lr", h["k"], "--format", "json"))
        assert r["value"] == pytest.approx(h[key], rel=1e-12)
        assert r["updated"] == pytest.approx(h[new], rel=1e-12)


def test_seed_001_two_layer_chain():
    x, w1, b, w2, mu, y = 0.5, 0.8, 0.1, -1.2, 0.3, 1.0
    z1 = w1 * x + b
    z2 = w2 * sig(z1) + mu
    a = sig(z2)
    dC_da = -2 * (y - a)
    fp = lambda v: sig(v) * (1 - sig(v))  # noqa: E731
    dC_dw2 = dC_da * fp(z2) * sig(z1)  # the slides' first bullet
    dC_dw1 = dC_da * fp(z2) * w2 * fp(z1) * x  # the slides' second bullet
    doc = netfile.read_toml(EX / "chain_001.toml")
    net = netfile.from_dict(doc)
    r = graph_report(net, *netfile.sample(doc, net))
    assert r["weights"]["1->2"]["grad"] == pytest.approx(dC_dw2, rel=1e-12)
    assert r["weights"]["x->1"]["grad"] == pytest.approx(dC_dw1, rel=1e-12)
    assert r["loss"] == pytest.approx((y - a) ** 2, rel=1e-12)


def test_seed_003_layered_network_exercises_i_j_l():
    doc = netfile.read_toml(EX / "layered_003.toml")
    net = netfile.from_dict(doc)
    W1, b1 = np.array(doc["layer"][0]["weights"]), np.array(doc["layer"][0]["bias"])
    W2, b2 = np.array(doc["layer"][1]["weights"]), np.array(doc["layer"][1]["bias"])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 2))
    T = np.eye(3)[[2, 0, 1, 1, 0]]
    gW1, gW2, E = np.zeros_like(W1), np.zeros_like(W2), 0.0
    for x, t in zip(X, T):  # exercise (l): a sum over n of per-sample δ z products, weights shared
        a1 = W1 @ x + b1
        z1 = np.tanh(a1)
        a2 = W2 @ z1 + b2
        y = np.exp(a2) / np.exp(a2).sum()
        E += -np.sum(t * np.log(y))
        d2 = y - t  # exercise (i), the right answer
        d1 = (1 - z1**2) * (W2.T @ d2)  # exercise (j)
        gW2 += np.outer(d2, z1)
        gW1 += np.outer(d1, x)
    g = net.loss_and_grads(X, T)
    assert g.cost == pytest.approx(E, rel=1e-12)
    assert np.allclose(g.W[1], gW2, atol=1e-12) and np.allclose(g.W[0], gW1, atol=1e-12)


def test_all_examples_pass_gradcheck():
    for f in sorted(EX.glob("*.toml")):
        r = json.loads(cli("gradcheck", f, "--json", "--samples", "2"))
        assert r["ok"], (f.name, r)
