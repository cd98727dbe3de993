"""Each activation's σ′ and each loss's ∂c/∂a against central differences, SymPy and stability limits."""

import warnings

import numpy as np
import pytest
import sympy as sp

import deltaprop as dp
from deltaprop.engine import activations, losses
from conftest import central_differences, rel_err, targets_for

ELEMENTWISE = [name for name, g in dp.ACTIVATIONS.items() if g.elementwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_derivative_matches_central_differences(name, dtype, rng):
    g = dp.ACTIVATIONS[name]
    z = rng.uniform(-4, 4, (6, 5))
    z = z[np.abs(z) > 1e-3].reshape(-1, 1)  # away from the kinks of relu and leaky_relu
    numeric = np.diag(central_differences(lambda v: g.f(v).sum(), z)[:, 0]) @ np.ones(len(z))
    zt = z.astype(dtype)
    analytic = g.df(zt, g.f(zt))
    assert analytic.dtype == dtype
    assert rel_err(analytic[:, 0], numeric) <= (1e-8 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if dp.ACTIVATIONS[n].formula])
def test_derivative_matches_sympy(name, rng):
    g = dp.ACTIVATIONS[name]
    zs = sp.Symbol("z", real=True)
    expr = sp.sympify(g.formula, locals={"z": zs})
    d = sp.lambdify(zs, sp.diff(expr, zs), "numpy")
    f = sp.lambdify(zs, expr, "numpy")
    z = rng.uniform(-4, 4, 20)
    z = z[np.abs(z) > 1e-3]
    np.testing.assert_allclose(g.f(z), f(z) * np.ones_like(z), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(g.df(z, g.f(z)), d(z) * np.ones_like(z), rtol=1e-13, atol=1e-300)


def test_softmax_jacobian_against_differences(rng):
    z = rng.standard_normal((1, 4))
    g_a = rng.standard_normal((1, 4))
    numeric = central_differences(lambda v: float((activations.softmax(v) * g_a).sum()), z)
    a = activations.softmax(z)
    assert rel_err(activations.softmax_delta(a, g_a), numeric) <= 1e-9


@pytest.mark.parametrize("name", list(dp.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_for_large_z(name, dtype):
    g = dp.ACTIVATIONS[name]
    z = np.array([[-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            a = g.f(z)
            d = g.df(z, a)
    assert a.dtype == dtype and np.all(np.isfinite(a)) and np.all(np.isfinite(d))


def test_sigmoid_is_exact_in_the_tails():
    z = np.array([-40.0, -700.0, 40.0])
    a = dp.ACTIVATIONS["sigmoid"].f(z)
    assert a[0] == pytest.approx(np.exp(-40.0) / (1 + np.exp(-40.0)), rel=1e-15)
    assert a[1] > 0 and a[2] == 1.0


LOSS_CASES = [("quadratic", {}), ("cross_entropy", {}), ("binary_cross_entropy", {}), ("gaussian_nll", {"sigma2": 0.5}),
              ("itakura_saito", {})]


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_loss_gradient_matches_central_differences(name, params, rng):
    loss = losses.get(name, **params)
    t = targets_for(name, rng, 4, 3)
    a = rng.uniform(0.1, 0.9, (4, 3))
    numeric = central_differences(lambda v: loss.value(v, t).sum(), a)
    assert rel_err(loss.grad(a, t), numeric) <= 1e-8


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_loss_matches_its_formula_by_sympy(name, params, rng):
    """value and grad against the formula of one output, differentiated by SymPy."""
    loss = losses.get(name, **params)
    a_s, t_s = sp.symbols("a t", positive=True)
    expr = sp.sympify(loss.formula, locals={"a": a_s, "t": t_s})
    f = sp.lambdify((a_s, t_s), expr, "numpy")
    d = sp.lambdify((a_s, t_s), sp.diff(expr, a_s), "numpy")
    t = targets_for(name, rng, 4, 3)
    a = rng.uniform(0.1, 0.9, (4, 3))
    np.testing.assert_allclose(loss.value(a, t), f(a, t).sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(loss.grad(a, t), d(a, t), rtol=1e-12)


def test_gaussian_nll_is_the_negative_log_likelihood(rng):
    """Seed 003 (e): −log N(t | a, σ²I) = (D/2) log 2πσ² + ‖a − t‖²/(2σ²), via scipy's density."""
    from scipy.stats import multivariate_normal

    a, t, s2 = rng.standard_normal(3), rng.standard_normal(3), 0.7
    nll = -multivariate_normal(mean=a, cov=s2 * np.eye(3)).logpdf(t)
    assert losses.get("gaussian_nll", sigma2=s2).value(a[None], t[None])[0] == pytest.approx(nll, rel=1e-13)


@pytest.mark.parametrize("pair", list(losses.FUSED))
def test_fused_values_equal_the_plain_ones(pair, rng):
    act, name = pair
    z = rng.standard_normal((5, 3))
    t = targets_for(name, rng, 5, 3)
    a = dp.ACTIVATIONS[act].f(z)
    np.testing.assert_allclose(losses.FUSED[pair](z, t), losses.get(name).value(a, t), rtol=1e-13)


def test_loss_settings_are_checked():
    with pytest.raises(dp.DeltapropError, match="sigma2"):
        losses.get("gaussian_nll", sigma2=-1)
    with pytest.raises(dp.DeltapropError, match="takes no settings"):
        losses.get("quadratic", sigma2=2)
    with pytest.raises(dp.DeltapropError, match="every target t must be > 0"):
        dp.Network([1, 1], "square", "itakura_saito").loss_and_grads([[1.0]], [[-1.0]])


@pytest.mark.parametrize("z,t", [([20.0, 0.0], [1.0, 0.0]), ([20.0, 0.0], [0.0, 1.0]), ([3.0, 3.0, 1.0], [0.2, 0.5, 0.3]),
                                 ([50.0, -50.0], [1.0, 0.0]), ([2.0, 2.0], [1.0, 0.0]), ([0.1, 0.2, -0.3], [1.1, 0.0, 0.0])])
def test_softmax_cross_entropy_keeps_relative_precision(z, t):
    """Against 200-digit arithmetic: a confident, right prediction has c ≈ e^(−20), which lse(z) − z_k loses."""
    import mpmath as mp

    with mp.workdps(200):
        lse = mp.log(mp.fsum(mp.exp(mp.mpf(x)) for x in z))
        exact = float(mp.fsum(mp.mpf(tk) * (lse - mp.mpf(zk)) for tk, zk in zip(t, z)))
    for work in (None, {}):
        c = losses.FUSED[("softmax", "cross_entropy")](np.array([z]), np.array([t]), work)[0]
        assert c == pytest.approx(exact, rel=1e-14, abs=0)


@pytest.mark.parametrize("z,t", [(20.0, 1.0), (35.0, 1.0), (-35.0, 0.0), (2.0, 0.3), (1000.0, 0.0), (-1000.0, 1.0)])
def test_sigmoid_bce_keeps_relative_precision(z, t):
    import mpmath as mp

    with mp.workdps(200):
        softplus = lambda x: mp.log1p(mp.exp(mp.mpf(x)))  # noqa: E731
        exact = float(mp.mpf(t) * softplus(-z) + (1 - mp.mpf(t)) * softplus(z))
    for work in (None, {}):
        c = losses.FUSED[("sigmoid", "binary_cross_entropy")](np.array([[z]]), np.array([[t]]), work)[0]
        assert c == pytest.approx(exact, rel=1e-14, abs=0)
