"""Likelihood → loss → δ (seed 003, e g i k l): each δ checked here by SymPy, independently of the code."""

import pytest
import sympy as sp

from deltaprop.explain import likelihood as symbolic  # the likelihoods moved out of symbolic.py
from deltaprop.cli import main

a, t, s2 = sp.symbols("a t sigma2", real=True)


def sig(x):
    return 1 / (1 + sp.exp(-x))


def zero(e):
    return sp.simplify(e) == 0


def test_gaussian():
    r = symbolic.likelihood("gaussian")
    y = a  # identity output
    E = -sp.log(sp.exp(-(t - y) ** 2 / (2 * s2)) / sp.sqrt(2 * sp.pi * s2))
    assert zero(sp.expand_log(E, force=True) - r.loss.subs(symbolic.yy, y))
    assert zero(sp.diff(E, a) - r.delta.subs(symbolic.yy, y))
    assert r.activation == "identity" and r.verified


def test_bernoulli():
    r = symbolic.likelihood("bernoulli")
    E = -(t * sp.log(sig(a)) + (1 - t) * sp.log(1 - sig(a)))
    assert zero(sp.diff(E, a) - (sig(a) - t))
    assert zero(r.delta.subs(symbolic.yy, sig(a)) - (sig(a) - t))
    assert r.activation == "sigmoid" and r.verified


@pytest.mark.parametrize("K", [2, 4])
def test_categorical_softmax_delta_is_y_minus_t(K):
    # seed 003 (i): the seed's answer never arrives here; with Σ t = 1, ∂E/∂a_j = y_j − t_j
    aa = sp.symbols(f"a1:{K + 1}", real=True)
    tt = sp.symbols(f"t1:{K + 1}", real=True)
    y = [sp.exp(x) / sum(sp.exp(v) for v in aa) for x in aa]
    E = -sum(tk * sp.log(yk) for tk, yk in zip(tt, y))
    onehot = {tt[-1]: 1 - sum(tt[:-1])}
    for j in range(K):
        assert zero((sp.diff(E, aa[j]) - (y[j] - tt[j])).subs(onehot))
    r = symbolic.likelihood("categorical")
    assert r.activation == "softmax" and sp.sstr(r.delta) == "-t_j + y_j" and r.verified


def test_poisson():
    r = symbolic.likelihood("poisson")
    lam = sp.exp(a)
    E = -sp.log(lam**t * sp.exp(-lam) / sp.gamma(t + 1))
    assert zero(sp.diff(E, a) - (lam - t))
    assert zero(r.delta.subs(symbolic.yy, lam) - (lam - t)) and r.verified


def test_exponential_canonical_link():
    r = symbolic.likelihood("exponential")
    an = sp.Symbol("a", negative=True)
    y = -1 / an
    E = -sp.log(sp.exp(-t / y) / y)
    assert zero(sp.diff(E, an) - (y - t))
    assert zero(r.loss.subs(symbolic.yy, y) - E) and r.activation == "-1/z" and r.verified


def test_check_can_fail():
    assert not symbolic._check(-(t * sp.log(symbolic.sigma(a))), a, symbolic.sigma(a) - t)


def test_batch_rules_have_no_n_on_weights():
    # seed 003 (l) wrote w_{nkj}: the weights are shared by every sample
    rule = symbolic.BATCH_RULES[-1]
    assert "w_{kj}" in rule and "w_{nkj}" not in rule and r"\delta_{nk}" in rule
    assert r"\sum_{n=1}^N \delta_{nj}^{(l)} z_{ni}^{(l-1)}" in symbolic.BATCH_RULES[1]


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "json"])
def test_cli_likelihood(capsys, fmt):
    assert main(["derive", "--likelihood", "categorical", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "y_j" in out or "y_{j}" in out
