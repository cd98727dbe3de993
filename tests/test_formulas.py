"""Formula activations and losses: safe parsing, derivatives against finite differences and SymPy."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import deltaprop as dp
from deltaprop.engine import activations, formulas, losses
from deltaprop.errors import DeltapropError

SRC = str(Path(__file__).resolve().parents[1] / "src")

ACTIVATION_FORMULAS = ["z**2", "tanh(2*z)", "exp(-z**2/2)", "sigmoid(z)*z", "log(1 + exp(z))", "z^3 - sin(z)",
                       "sqrt(z**2 + 1)", "cosh(z)/2"]


def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("text", ACTIVATION_FORMULAS)
def test_activation_derivative_matches_finite_differences(text):
    g = activations.get(text)
    z = np.linspace(-2.0, 2.0, 9)[None, :]
    a = g.f(z)
    num = central(lambda x: g.f(x), z)
    assert np.allclose(g.df(z, a), num, rtol=1e-6, atol=1e-8)


def test_activation_against_hand_written_numpy():
    # independent oracle: the same functions written by hand
    z = np.array([[-1.5, 0.0, 0.3, 2.0]])
    assert np.allclose(activations.get("z**2").f(z), z * z)
    assert np.allclose(activations.get("z**2").df(z, None), 2 * z)
    assert np.allclose(activations.get("tanh(2*z)").df(z, None), 2 / np.cosh(2 * z) ** 2)
    s = 1 / (1 + np.exp(-z))
    assert np.allclose(activations.get("sigmoid(z)*z").df(z, None), s * (1 - s) * z + s)


def test_loss_formula_matches_registry_itakura_saito():
    A = np.array([[1.2, 0.5], [2.0, 3.0]])
    T = np.array([[1.5, 1.0], [0.7, 3.0]])
    f, ref = losses.get("t/a - log(t/a) - 1"), losses.get("itakura_saito")
    assert np.allclose(f.value(A, T), ref.value(A, T), rtol=1e-14)
    assert np.allclose(f.grad(A, T), ref.grad(A, T), rtol=1e-14)
    by_hand = (T / A - np.log(T / A) - 1).sum(axis=1)
    assert np.allclose(f.value(A, T), by_hand)


def test_constant_derivative_broadcasts_and_writes_out():
    g = activations.get("3*z + 1")
    z = np.zeros((2, 3))
    out = np.empty((2, 3))
    assert g.df(z, None, out=out) is out and np.all(out == 3)


def test_not_analytic_flag():
    assert activations.get("abs(z)").analytic is False
    assert activations.get("max(z, 0.1*z)").analytic is False
    assert activations.get("z**2").analytic is True


def test_formula_activation_in_layered_engine_gradcheck():
    net = dp.Network([3, 4, 2], ["tanh(2*z)", "z**2"], "t/a - log(t/a) - 1", seed=0)
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((5, 3)), rng.uniform(0.5, 2.0, (5, 2))
    assert dp.gradcheck(net, X, T, method="central").ok(1e-6)
    assert dp.gradcheck(net, X, T, method="complex").ok(1e-10)


def test_formula_network_trains():
    from deltaprop.training.optim import make

    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 2))
    T = (X[:, :1] * X[:, 1:]) ** 2 + 0.5
    net = dp.Network([2, 8, 1], "tanh(z)", "(a - t)**2/2", output="softplus(z)", seed=1)
    opt = make("adam", lr=0.05)
    first = net.cost(X, T)
    for _ in range(100):
        g = net.loss_and_grads(X, T)
        opt.step(net.params(), g.params())
    assert net.cost(X, T) < 0.5 * first


HOSTILE = [
    "__import__('os').system('touch {p}')",
    "().__class__.__bases__[0].__subclasses__()",
    "z.__class__",
    "(lambda: __import__('os').system('touch {p}'))()",
    "[__import__('os').system('touch {p}') for _ in (1,)]",
    "open('{p}', 'w')",
    "exec('open(\"{p}\", \"w\")')",
    "eval('1')",
    "9**9**9",
    "z**(10**10)",
    "2**3**4**5",
    "z" + "+z" * 600,
    "z if 1 else 0",
    "z[0]",
    "{{}}",
    "'abc'",
    "sin(z, key=1)",
    "exp(*z)",
    "z; import os",
    "z\x00",
    "-(" * 60 + "z" + ")" * 60,  # nested too deeply
    "(" * 300 + "z" + ")" * 300,  # beyond Python's own parser
    "z @ z",
    "z // 2",
    "True",
    "sympify('z')",
    "Symbol('x')",
    "z + sqrt(-1)",
    "z/0",
    "log(0)*z",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_formulas_refused_and_nothing_runs(text, tmp_path):
    marker = tmp_path / "pwned"
    text = text.format(p=marker)
    with pytest.raises(DeltapropError):
        formulas.activation(text)
    with pytest.raises(DeltapropError):
        formulas.loss(text.replace("z", "a"))
    assert not marker.exists()


def test_hostile_formula_in_network_file_cli_exit_2(tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "net.toml"
    f.write_text(f'''inputs = ["1"]
[neurons."2"]
activation = "__import__('os').system('touch {marker}')"
weights = {{ "1" = 0.5 }}
[sample]
x = {{ "1" = 1.0 }}
t = {{ "2" = 1.0 }}
''')
    r = subprocess.run([sys.executable, "-m", "deltaprop", "trace", str(f), "--json"], capture_output=True,
                       text=True, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "not an allowed function" in r.stderr
    assert not marker.exists()


def test_sympy_parse_expr_would_have_run_it():
    # why the whitelist matters: SymPy's own parser evaluates Python (so we never give it user text)
    assert formulas.parse("z**2 + exp(z)", {"z": formulas.z}) == formulas.z**2 + sp.exp(formulas.z)


def test_error_names_the_piece():
    with pytest.raises(DeltapropError, match="'foo'"):
        formulas.activation("foo(z)")
    with pytest.raises(DeltapropError, match="does not use z"):
        formulas.activation("3")
    with pytest.raises(DeltapropError, match="unknown name"):
        formulas.loss("a - y")


def test_exponent_limit_allows_normal_powers():
    g = formulas.activation("z**3/3 + 2**(-z)")
    assert math.isclose(float(g.f(np.array([[1.0]]))[0, 0]), 1 / 3 + 0.5)


@pytest.mark.parametrize("text", ["exp(z)", "log(1 + z**2)", "ln(2 + z)", "sqrt(1 + z**2)", "abs(z)", "sin(z)",
                                  "cos(z)", "tan(z/4)", "sinh(z)", "cosh(z)", "tanh(z)", "asinh(z)", "atan(z)",
                                  "erf(z)", "sigmoid(z)", "softplus(z)", "heaviside(z)", "sign(z)", "max(z, 0)",
                                  "min(z, 0.5*z)", "pi*z + e"])
def test_every_documented_function_compiles_with_its_derivative(text):
    """Each function the README lists, as an activation on arrays: σ′ against central differences."""
    g = formulas.activation(text)
    z = np.array([[-1.3, -0.4, 0.35, 0.9, 1.7]])
    a = g.f(z)
    h = 1e-6
    numeric = (g.f(z + h) - g.f(z - h)) / (2 * h)
    np.testing.assert_allclose(g.df(z, a), numeric, rtol=1e-7, atol=1e-8)
