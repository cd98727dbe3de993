"""`derive`: expressions that SymPy can parse, valued at the sample, equal to independent gradients."""

import json

import pytest
import sympy as sp

from deltaprop.files import netfile
from deltaprop.explain import symbolic
from deltaprop.cli import main
from deltaprop.errors import DeltapropError
from deltaprop.explain.gradcheck import numeric_gradients

SIGMA = sp.Function("sigma")


def value_of(expression: str, symbols: dict) -> float:
    """What an outside checker does: parse the text, define σ, substitute the sample's values."""
    e = sp.sympify(expression, locals={"sigma": SIGMA})
    e = e.replace(SIGMA, lambda v: 1 / (1 + sp.exp(-v)))
    assert {s.name for s in e.free_symbols} <= set(symbols)
    return float(e.subs(symbols))


def run_json(capsys, *argv):
    assert main(list(map(str, argv))) == 0
    return json.loads(capsys.readouterr().out)


def skip_net():
    doc = {"inputs": ["x1", "x2"], "activation": "tanh", "outputs": ["o", "p"],
           "neurons": {"h1": {"weights": {"x1": 0.5, "x2": -0.3}, "bias": 0.1},
                       "h2": {"activation": "sigmoid", "weights": {"x1": -0.2, "h1": 0.9}},
                       "o": {"activation": "z**2", "weights": {"h1": 1.1, "h2": -0.7, "x2": 0.25}, "bias": 0.05},
                       "p": {"activation": "identity", "weights": {"h2": 0.6, "o": -0.4}}},
           "loss": {"formula": "(a - t)**2/2 + a**4/10"},
           "sample": {"x": {"x1": 0.3, "x2": -0.8}, "t": {"o": 0.4, "p": -0.2}}}
    return doc, netfile.graph_from_dict(doc)


def test_every_quantity_against_finite_differences():
    doc, net = skip_net()
    X, T = netfile.sample(doc, net)
    d = symbolic.Deriver(net, X, T)
    num_w, num_b = numeric_gradients(net, X, T)
    for e, (i, j) in enumerate(net.edges):
        r = d.derive(f"w_{i}_{j}")
        assert r.value == pytest.approx(num_w[e], rel=1e-7, abs=1e-10)
        assert value_of(sp.sstr(r.json_expression()), d.values) == pytest.approx(r.value, rel=1e-10, abs=1e-14)
    for m, j in enumerate(net.neurons):
        for wrt in (f"b_{j}", f"z_{j}"):
            r = d.derive(wrt)
            assert r.value == pytest.approx(num_b[m], rel=1e-7, abs=1e-10)
            assert value_of(sp.sstr(r.json_expression()), d.values) == pytest.approx(r.value, rel=1e-10)


def test_derivative_wrt_activity_against_torch():
    torch = pytest.importorskip("torch")
    doc, net = skip_net()
    X, T = netfile.sample(doc, net)
    d = symbolic.Deriver(net, X, T)
    # autograd on a forward written here from the document, with a perturbation handle on every activity
    x = {k: torch.tensor(v, dtype=torch.float64) for k, v in doc["sample"]["x"].items()}
    eps = {j: torch.zeros((), dtype=torch.float64, requires_grad=True) for j in ["x1", "x2", "h1", "h2", "o", "p"]}
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "z**2": lambda v: v * v, "identity": lambda v: v}
    a = {k: x[k] + eps[k] for k in x}
    for j in ["h1", "h2", "o", "p"]:
        n = doc["neurons"][j]
        z = n.get("bias", 0.0) + sum(w * a[i] for i, w in n["weights"].items())
        a[j] = f[n.get("activation", "tanh")](z) + eps[j]
    t = doc["sample"]["t"]
    L = sum((a[k] - t[k]) ** 2 / 2 + a[k] ** 4 / 10 for k in ("o", "p"))
    L.backward()
    for j in eps:
        r = d.derive(f"a_{j}")
        assert r.value == pytest.approx(eps[j].grad.item(), rel=1e-12, abs=1e-15)
        assert value_of(sp.sstr(r.json_expression()), d.values) == pytest.approx(r.value, rel=1e-10, abs=1e-14)


def test_cli_json_contract(capsys, tmp_path):
    r = run_json(capsys, "derive", "../examples/exam_004.toml" if False else _exam(), "--wrt", "z3",
                 "--format", "json")
    assert {"wrt", "expression", "latex", "value"} <= set(r)
    assert r["wrt"] == "z3"
    assert value_of(r["expression"], r["symbols"]) == pytest.approx(r["value"], rel=1e-12)


def _exam():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "examples" / "exam_004.toml"


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown"])
@pytest.mark.parametrize("notation", ["nielsen", "bishop", "exam"])
def test_formats_and_notations(capsys, fmt, notation):
    assert main(["derive", str(_exam()), "--wrt", "w46", "--expanded", "--format", fmt, "--notation", notation]) == 0
    out = capsys.readouterr().out
    assert "0.17044987637" in out or "0.170449876" in out
    if notation == "exam":
        assert "x4" in out or "x_{4}" in out  # the exam's x for activity
    if notation == "bishop":
        assert "w64" in out or "w_{64}" in out  # Bishop writes w_ji for the weight from i into j


def test_markdown_is_a_worked_solution(capsys):
    assert main(["derive", str(_exam()), "--wrt", "z3", "--format", "markdown", "--notation", "exam"]) == 0
    out = capsys.readouterr().out
    assert r"\delta_{3} = \left(\delta_{4} w_{34} + \delta_{5} w_{35} + \delta_{6} w_{36}\right)" in out
    assert "0.0798117" in out and "**Value at the sample:**" in out


@pytest.mark.parametrize("spelling", ["w46", "w_4_6", "w4,6", "w(4,6)", "w_{4,6}", "w4->6"])
def test_wrt_spellings(spelling):
    doc = {"inputs": ["1", "2"], "neurons": {"4": {"weights": {"1": 0.3, "2": 0.2}}, "6": {"weights": {"4": 0.5}}},
           "sample": {"x": {"1": 1, "2": 2}, "t": {"6": 0.5}}}
    net = netfile.graph_from_dict(doc)
    assert symbolic.Deriver(net, *netfile.sample(doc, net)).resolve(spelling) == ("w", ("4", "6"))


def test_ambiguous_and_odd_ids():
    doc = {"inputs": ["1", "12"], "neurons": {"21": {"weights": {"1": 0.3, "12": 0.2}},
                                              "h-1": {"weights": {"21": 0.5, "1": 0.1}}},
           "sample": {"x": {"1": 1, "12": 2}, "t": {"h-1": 0.5}}}
    net = netfile.graph_from_dict(doc)
    d = symbolic.Deriver(net, *netfile.sample(doc, net))
    assert d.resolve("w_1_21") == ("w", ("1", "21"))
    assert d.resolve("w_1_n1") == ("w", ("1", "h-1"))
    assert d.resolve("z_n1") == ("z", "h-1") and d.legend == {"n1": "h-1"}
    with pytest.raises(DeltapropError, match="ambiguous"):
        net2 = netfile.graph_from_dict({"inputs": ["a"], "neurons": {"12": {"weights": {"a": 1.0}},
                                                             "1": {"weights": {"12": 1.0}},
                                                             "21": {"weights": {"1": 1.0}}}})
        d2 = symbolic.Deriver(net2, [[1.0]], [[0.1]])
        assert d2.resolve("w_1_21") == ("w", ("1", "21")) and d2.resolve("w_12_1") == ("w", ("12", "1"))
        d2.resolve("w121")  # 1 → 21 or 12 → 1?
    with pytest.raises(DeltapropError, match="names no quantity"):
        d.resolve("w_21_1")


def test_cli_errors_exit_2(capsys):
    assert main(["derive", str(_exam()), "--wrt", "__import__('os')"]) == 2
    assert main(["derive", str(_exam())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2
