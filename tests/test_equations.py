"""Every displayed equation of the worked solutions is true: the quick tier of fuzz/equations.py (the full run:
`python fuzz/equations.py --graphs 1000`, counts in docs/derivations.md), and proof that its check can fail."""

import random
import sys
from pathlib import Path

import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import equations as E  # noqa: E402

from deltaprop.cli.derive import render  # noqa: E402
from deltaprop.files import netfile  # noqa: E402
from deltaprop.explain import symbolic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_random_graphs_every_equation_true():
    done, n_eq, fails = E.run(graphs=22, seed=12345, verbose=False)
    assert done == 22 and n_eq > 1000
    assert not fails, "\n".join(fails[:5])


def outputs_feeding_outputs():
    doc = {"inputs": ["x1", "x2"], "activation": "tanh", "outputs": ["o1", "o2"],
           "neurons": {"h": {"weights": {"x1": 0.5, "x2": -0.3}, "bias": 0.1},
                       "o1": {"activation": "sigmoid", "weights": {"h": 1.1, "x2": 0.4}},
                       "o2": {"activation": "identity", "weights": {"o1": -0.8, "h": 0.6}}},
           "loss": {"name": "quadratic"}, "sample": {"x": {"x1": 0.3, "x2": -0.8}, "t": {"o1": 0.4, "o2": -0.2}}}
    net = netfile.graph_from_dict(doc)
    X, T = netfile.sample(doc, net)
    return doc, net, X, T, symbolic.Deriver(net, X, T)


def check(md: str, doc, net, X, T, d, notation="nielsen"):
    others = [E.reweighted(doc, random.Random(1))]
    nets = [netfile.graph_from_dict(o) for o in others]
    there = [E.Values(n, *netfile.sample(o, n), d, notation) for n, o in zip(nets, others)]
    return E.check_equations(E.equations(md, ""), E.Values(net, X, T, d, notation), there, E.prime_functions())


def test_outputs_feeding_outputs_and_the_sum_of_losses_are_true():
    doc, net, X, T, d = outputs_feeding_outputs()
    md = render(d, d.derive("z_h"), "markdown", "nielsen", True, sp.Symbol("k"))
    assert r"L = \ell_{o1} + \ell_{o2}" in md  # L is the sum of the outputs' terms, not each one
    assert r"\delta_{o1} = \frac{\partial L}{\partial z_{o1}} = \frac{\partial \ell_{o1}}" not in md
    count, fails = check(md, doc, net, X, T, d)
    assert count > 10 and not fails, fails


def test_the_check_catches_false_equations():
    doc, net, X, T, d = outputs_feeding_outputs()
    md = render(d, d.derive("z_h"), "markdown", "nielsen", True, None)
    # the false equation of the issue: o1 feeds o2, so its δ is not ∂ℓ_o1/∂a_o1 · σ′(z_o1) alone
    own = next(line for line in md.splitlines()
               if line.startswith(r"$$ \frac{\partial \ell_{o1}}{\partial a_{o1}}\frac"))
    false = own.replace("$$ ", r"$$ \delta_{o1} = ", 1)
    _, fails = check(false, doc, net, X, T, d)
    assert fails and "false at the sample" in fails[0]
    # a wrong number, a wrong sign, a wrong symbol: each caught
    rule = next(line for line in md.splitlines() if line.startswith(r"$$ \delta_{h} ="))
    for bad in (rule.replace("0.", "0.1", 1), rule.replace("+", "-", 1), rule.replace("w_{h o2}", "w_{h o1}", 1)):
        assert bad != rule
        _, fails = check(bad, doc, net, X, T, d)
        assert fails, bad
