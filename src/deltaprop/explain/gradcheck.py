"""Gradient checking: backpropagation against finite differences, as a feature.

Works with any :class:`~deltaprop.engine.protocol.Engine` (the layered and the graph engines): its ``params()``
are perturbed in place here, entry by entry, and restored; ``cost(X, T)`` is the oracle's C; backprop's
gradients are ``loss_and_grads(X, T).params()``.

- central differences in float64: (C(θ + h) − C(θ − h)) / 2h, error O(h²) plus rounding ~ ε/h;
- the complex step: Im C(θ + ih) / h with h = 1e-20, exact to rounding because nothing is subtracted
  (Squire & Trapp 1998); it needs every function on the path to be analytic, so not relu or abs.

The error of an array is norm-wise: max|g_bp − g_num| / max(max|g_bp|, max|g_num|), which stays meaningful
where single entries are near zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine.protocol import Engine, named_params
from .. import checks, limits
from ..errors import DeltapropError, DeltapropTypeError


def _arguments(net, X, method, h, name: str):
    """The arguments of gradcheck and numeric_gradients, checked where they enter: X as the network's batch."""
    if not isinstance(net, Engine):
        raise DeltapropTypeError(f"{name}: net must be a network (dp.Network or dp.GraphNetwork), not "
                                 f"{type(net).__name__}")
    checks.text_arg(method, f"{name}: method")
    if h is not None and not checks.finite_number(h, f"{name}: h") > 0:
        raise DeltapropError(f"{name}: the step h must be > 0, got {h!r}")
    return checks.batch(X, net.n_inputs, f"{name}: X")

CENTRAL_STEP = 1e-6  # ≈ ε^(1/3) scaled: balances the O(h²) truncation against the ε/h rounding
COMPLEX_STEP = 1e-20


def relative_error(g: np.ndarray, g_ref: np.ndarray) -> float:
    g, g_ref = np.asarray(g, float), np.asarray(g_ref, float)
    scale = max(np.max(np.abs(g), initial=0.0), np.max(np.abs(g_ref), initial=0.0))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(g - g_ref)) / scale)


@dataclass
class GradcheckReport:
    method: str
    errors: dict[str, float] = field(default_factory=dict)  # parameter array name -> relative error
    backprop: dict[str, np.ndarray] = field(default_factory=dict)
    numeric: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def ok(self, tol: float = 1e-6) -> bool:
        return self.max_error <= tol

    def to_dict(self) -> dict:
        return {"method": self.method, "max_error": self.max_error, "errors": self.errors}


def numeric_gradients(net: Engine, X, T, method: str = "central", h: float | None = None) -> list[np.ndarray]:
    """∂C/∂θ for every parameter array of ``net``, by finite differences, one entry at a time."""
    X = _arguments(net, X, method, h, "numeric_gradients")
    if method == "central":
        net = net.astype(np.float64)
        X = np.asarray(X, np.float64)
        h = CENTRAL_STEP if h is None else h
    elif method == "complex":
        if not net.analytic:
            raise DeltapropError("the complex step needs analytic functions; this network has relu, abs or similar")
        net = net.astype(np.complex128)
        X = np.asarray(X, np.complex128)
        h = COMPLEX_STEP if h is None else h
    else:
        raise DeltapropError(f"unknown gradcheck method {method!r}; use 'central' or 'complex'")
    out = []
    for p in net.params():
        g = np.zeros(p.shape)
        for i in np.ndindex(p.shape):  # entry by entry, in place: the network sees each perturbation
            old = p[i]
            if method == "central":
                p[i] = old + h
                up = net.cost(X, T)
                p[i] = old - h
                down = net.cost(X, T)
                g[i] = (up - down) / (2 * h)
            else:
                p[i] = old + 1j * h
                g[i] = np.imag(net.cost(X, T)) / h
            p[i] = old
        out.append(g)
    return out


def work(net: Engine, n_samples: int) -> int:
    """An estimate of the check's cost in ~nanoseconds: two cost evaluations per parameter, each touching every
    parameter and unit once per sample, plus ~5 µs of Python per layer (or per level of a neuron graph)."""
    n_params = sum(p.size for p in net.params())
    level = getattr(net, "level", None)
    steps = int(level.max()) + 1 if level is not None and len(level) else getattr(net, "L", 1)
    units = len(net.ids) if hasattr(net, "ids") else sum(getattr(net, "sizes", [n_params]))
    return n_params * 2 * (n_samples * (n_params + units) + 5_000 * steps)


def gradcheck(net: Engine, X, T, method: str = "auto", h: float | None = None) -> GradcheckReport:
    """Compare backprop's ∂C/∂θ with finite differences; ``method`` is central, complex or auto.

    ``auto`` takes the complex step where every function is analytic, central differences otherwise.
    The check always runs in float64 (or complex128), whatever the network's dtype.
    """
    X = _arguments(net, X, method, h, "gradcheck")
    if method == "auto":
        method = "complex" if net.analytic else "central"
    limits.check("gradcheck_work", work(net, np.shape(X)[0]), "gradcheck",
                 "the work of the check (parameters × 2 passes × (samples × (parameters + neurons) + 5 000 per "
                 "layer or level), ~1 ns each)")
    net64 = net.astype(np.float64)
    with np.errstate(all="ignore"):
        grads = net64.loss_and_grads(np.asarray(X, np.float64), T)
    if not np.isfinite(grads.cost):
        raise DeltapropError(f"the cost is {grads.cost} on this batch: the loss is undefined there "
                             "(check the targets and the output activation), so there is no gradient to check")
    report = GradcheckReport(method)
    numeric = numeric_gradients(net64, X, T, method, h)
    for (name, _), g_bp, g_num in zip(named_params(net64), grads.params(), numeric):
        report.errors[name] = relative_error(g_bp, g_num)
        report.backprop[name] = g_bp
        report.numeric[name] = g_num
    return report


def random_batch(net: Engine, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples (n ≥ 1) of standard normal inputs X (n, n_inputs), with targets T (n, n_outputs) the loss
    accepts: a batch to check gradients on when the user gave none. Seeded, so a check can be repeated."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, net.n_inputs))
    return X, random_targets(net.loss.name, rng, n, net.n_outputs)


def random_targets(name: str, rng, n: int, k: int) -> np.ndarray:
    """Targets valid for the loss: one-hot rows for cross-entropy, (0, 1) or > 0 where needed."""
    if name == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if name == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, (n, k))
    if name == "itakura_saito":
        return rng.uniform(0.5, 2.0, (n, k))
    if name in ("quadratic", "gaussian_nll"):
        return rng.standard_normal((n, k))
    return rng.uniform(0.5, 1.5, (n, k))  # a formula loss: positive targets suit logs and ratios
