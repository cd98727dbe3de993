"""Gradient checking: backpropagation against finite differences, as a feature.

Works with any network that has ``params()`` (the arrays, changed in place here and restored),
``param_names()``, ``cost(X, T)``, ``loss_and_grads(X, T)`` (returning an object with ``params()`` and ``X``)
and ``astype(dtype)``: the layered and the graph engines both do.

- central differences in float64: (C(θ + h) − C(θ − h)) / 2h, error O(h²) plus rounding ~ ε/h;
- the complex step: Im C(θ + ih) / h with h = 1e-20, exact to rounding because nothing is subtracted
  (Squire & Trapp 1998); it needs every function on the path to be analytic, so not relu or abs.

The error of an array is norm-wise: max|g_bp − g_num| / max(max|g_bp|, max|g_num|), which stays meaningful
where single entries are near zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DeltapropError

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

    def __repr__(self) -> str:
        from ..view import notebook

        return notebook.gradcheck_repr(self)

    def _repr_html_(self) -> str:
        from ..view import notebook

        return notebook.gradcheck_html(self)


def numeric_gradients(net, X, T, method: str = "central", h: float | None = None) -> list[np.ndarray]:
    """∂C/∂θ for every parameter array of ``net``, by finite differences, one entry at a time."""
    if method == "central":
        net = net.astype(np.float64)
        X = np.asarray(X, np.float64)
        h = CENTRAL_STEP if h is None else h
    elif method == "complex":
        if not getattr(net, "analytic", True):
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


def gradcheck(net, X, T, method: str = "auto", h: float | None = None) -> GradcheckReport:
    """Compare backprop's ∂C/∂θ with finite differences; ``method`` is central, complex or auto.

    ``auto`` takes the complex step where every function is analytic, central differences otherwise.
    The check always runs in float64 (or complex128), whatever the network's dtype.
    """
    if method == "auto":
        method = "complex" if getattr(net, "analytic", False) else "central"
    net64 = net.astype(np.float64)
    with np.errstate(all="ignore"):
        grads = net64.loss_and_grads(np.asarray(X, np.float64), T)
    if not np.isfinite(grads.cost):
        raise DeltapropError(f"the cost is {grads.cost} on this batch: the loss is undefined there "
                             "(check the targets and the output activation), so there is no gradient to check")
    report = GradcheckReport(method)
    for name, g_bp, g_num in zip(net64.param_names(), grads.params(), numeric_gradients(net64, X, T, method, h)):
        report.errors[name] = relative_error(g_bp, g_num)
        report.backprop[name] = g_bp
        report.numeric[name] = g_num
    return report
