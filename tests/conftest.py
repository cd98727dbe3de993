"""Shared test helpers: independent oracles live here, apart from the code under test."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

# Which output activations give values where each loss is defined (a > 0 for logs and t/a, a < 1 for BCE).
LOSS_OUTPUTS = {
    "quadratic": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "square", "softmax"],
    "gaussian_nll": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "square", "softmax"],
    "cross_entropy": ["softmax", "sigmoid", "softplus", "square"],
    "binary_cross_entropy": ["sigmoid", "softmax"],
    "itakura_saito": ["sigmoid", "softmax", "softplus", "square"],
}
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "square"]
PAIRS = [(o, loss) for loss, outs in LOSS_OUTPUTS.items() for o in outs]


def targets_for(loss: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Targets where the loss is defined: one-hot for cross-entropy, (0, 1) for BCE, > 0 for Itakura–Saito."""
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss == "binary_cross_entropy":
        return rng.uniform(0.1, 0.9, (n, k))
    if loss == "itakura_saito":
        return rng.uniform(0.3, 1.5, (n, k))
    return rng.standard_normal((n, k))


def central_differences(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences in float64, written here apart from deltaprop's own gradcheck."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def rel_err(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def fd_param_grads(net, X, T):
    """∂C/∂θ by central differences of net.cost, one parameter array at a time."""
    out = []
    for p in net.params():
        def cost_at(v, p=p):
            saved = p.copy()
            p[...] = v
            c = net.cost(X, T)
            p[...] = saved
            return c
        out.append(central_differences(cost_at, p.copy()))
    return out


def one_line_error(capsys, *needles) -> str:
    """The CLI's refusal: exactly one line on stderr, no traceback, containing each of ``needles``."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]
