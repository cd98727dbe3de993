"""Losses c(a, t) of one sample, each with its gradient ∂c/∂a, and the likelihood each one comes from.

A :class:`Loss` gives ``value(a, t)`` (N,) — one c per sample, summed over the outputs — and ``grad(a, t)``
(N, n) = ∂c/∂a. The batch cost C is the mean of the c's (reduction "mean", seeds 000 and 002) or their sum
("sum", seed 003); the engine applies that.

Three output/loss pairs are *canonical*: the loss is the negative log-likelihood of the distribution whose
natural parameter is z, so δᴸ = ∂c/∂zᴸ = a − t exactly (seed 003, exercises i and k):

    softmax  + cross_entropy         (categorical likelihood)
    sigmoid  + binary_cross_entropy  (Bernoulli likelihood)
    identity + quadratic             (Gaussian likelihood with σ² = 1)

For those pairs :data:`FUSED` computes c straight from the logits z (log-sum-exp, softplus), so logits of
±1000 give finite values, and the engine uses δᴸ = a − t. Every other pairing goes through
δᴸ = ∇ₐc ⊙ σ′(zᴸ) (or the softmax Jacobian).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from ..errors import DeltapropError

Array = np.ndarray


@dataclass(frozen=True)
class Loss:
    name: str
    value: Callable[[Array, Array], Array]  # (a, t) -> c per sample, (N,)
    grad: Callable[..., Array]  # (a, t, out=None) -> ∂c/∂a, (N, n)
    analytic: bool = True
    formula: str | None = None  # the loss of one output in a and t, SymPy text (for derivations)
    params: dict = field(default_factory=dict)
    check: Callable[[Array, Array], None] | None = None  # raises DeltapropError where c is undefined

    def check_targets(self, T, where: str, first_row: int = 1) -> None:
        """Refuse targets T (N, n) outside the loss's domain (:data:`TARGET_DOMAINS`), naming the first bad row."""
        domain = TARGET_DOMAINS.get(self.name)
        if domain is None:
            return
        outside, need = domain
        T = np.asarray(T, dtype=np.float64)
        bad = outside(T)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise DeltapropError(f"{where}: row {i + first_row} has targets {T[i].tolist()}; the loss needs {need}")


def _floor(a: Array) -> Array:
    # log a and t/a are finite for every a > 0; an a that underflowed to 0 is lifted to the smallest normal
    # number so that c and ∂c/∂a stay finite (values that small are infinite on any other path).
    if np.iscomplexobj(a):
        return a
    return np.maximum(a, np.finfo(a.dtype).tiny)


def _quadratic(a, t):
    d = a - t
    return 0.5 * np.sum(d * d, axis=1)


def _quadratic_grad(a, t, out=None):
    return np.subtract(a, t, out=out)


def _cross_entropy(a, t):
    return -np.sum(t * np.log(_floor(a)), axis=1)


def _cross_entropy_grad(a, t, out=None):
    out = np.divide(t, _floor(a), out=out)
    return np.negative(out, out=out)


def _one_minus(a):
    return _floor(1 - a) if not np.iscomplexobj(a) else 1 - a


def _bce(a, t):
    return -np.sum(t * np.log(_floor(a)) + (1 - t) * np.log(_one_minus(a)), axis=1)


def _bce_grad(a, t, out=None):
    return np.divide(a - t, _floor(a) * _one_minus(a), out=out)


def _itakura_saito(a, t):
    r = t / _floor(a)
    return np.sum(r - np.log(r) - 1, axis=1)


def _itakura_saito_grad(a, t, out=None):
    a = _floor(a)
    return np.divide(a - t, a * a, out=out)  # ∂/∂a (t/a − log t + log a − 1) = −t/a² + 1/a


def _positive(what: str) -> Callable[[Array, Array], None]:
    def check(a: Array, t: Array) -> None:
        if np.any(np.asarray(t) <= 0):
            raise DeltapropError(f"{what}: every target t must be > 0 (log(t/a) is undefined otherwise)")
        # a = 0 exactly is a positive output that underflowed (σ(−1000)); _floor handles it
        if np.any(np.asarray(a).real < 0):
            raise DeltapropError(
                f"{what}: every output a must be > 0 (log(t/a) is undefined otherwise); "
                "use a positive output activation such as square, softplus or exp(z)"
            )

    return check


def gaussian_nll(sigma2: float = 1.0) -> Loss:
    """c = (D/2) log 2πσ² + ‖a − t‖²/(2σ²): −log N(t | a, σ²I) (seed 003, exercise e)."""
    if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float, np.floating)):
        raise DeltapropError(f"gaussian_nll: sigma2 must be a number, got {sigma2!r}")
    sigma2 = float(sigma2)
    if not sigma2 > 0 or not np.isfinite(sigma2):
        raise DeltapropError(f"gaussian_nll: sigma2 must be a finite number > 0, got {sigma2}")

    def value(a, t):
        d = a - t
        return 0.5 * a.shape[1] * np.log(2 * np.pi * sigma2) + np.sum(d * d, axis=1) / (2 * sigma2)

    def grad(a, t, out=None):
        out = np.subtract(a, t, out=out)
        out /= sigma2
        return out

    formula = f"log(2*pi*{sigma2!r})/2 + (a - t)**2/(2*{sigma2!r})"
    return Loss("gaussian_nll", value, grad, formula=formula, params={"sigma2": sigma2})


LOSSES: dict[str, Loss] = {
    "quadratic": Loss("quadratic", _quadratic, _quadratic_grad, formula="(a - t)**2/2"),
    "cross_entropy": Loss("cross_entropy", _cross_entropy, _cross_entropy_grad, formula="-t*log(a)"),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", _bce, _bce_grad, formula="-t*log(a) - (1 - t)*log(1 - a)"
    ),
    "gaussian_nll": gaussian_nll(1.0),
    "itakura_saito": Loss(
        "itakura_saito",
        _itakura_saito,
        _itakura_saito_grad,
        formula="t/a - log(t/a) - 1",
        check=_positive("itakura_saito"),
    ),
}
ALIASES = {"mse": "quadratic", "squared_error": "quadratic", "ce": "cross_entropy", "bce": "binary_cross_entropy"}


def is_name(spec: str) -> bool:
    return spec.strip().lower() in LOSSES or spec.strip().lower() in ALIASES


def get(spec: str | Loss, **params) -> Loss:
    """A loss by name (``gaussian_nll`` takes ``sigma2=``), or from a formula in a and t."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise DeltapropError(f"loss must be a name or a formula string, not {type(spec).__name__}")
    name = ALIASES.get(spec.strip().lower(), spec.strip().lower())
    if name == "gaussian_nll":
        unknown = set(params) - {"sigma2"}
        if unknown:
            raise DeltapropError(f"gaussian_nll: unknown setting(s) {sorted(unknown)}; it takes sigma2")
        return gaussian_nll(params.get("sigma2", 1.0))
    if name in LOSSES:
        if params:
            raise DeltapropError(f"loss {name!r} takes no settings, got {sorted(params)}")
        return LOSSES[name]
    from . import formulas  # a formula such as "t/a - log(t/a) - 1"

    c = formulas.loss(spec)
    return Loss(c.name, c.value, c.grad, analytic=c.analytic, formula=c.formula)


# --- canonical pairs: c from the logits, δᴸ = a − t -----------------------------------------------------------


def _canonical_delta(z, a, t, out=None, work=None):
    return np.subtract(a, t, out=out)


@dataclass(frozen=True)
class Canonical:
    """A canonical output/loss pair: c from the logits z, and δᴸ = a − t (the loss knows it; the engine asks)."""

    cost: Callable[..., Array]  # (z, t, work=None) -> c per sample, (N,)
    delta: Callable[..., Array] = _canonical_delta  # (z, a, t, out=None, work=None) -> δᴸ, (N, n)


FUSED: dict[tuple[str, str], Callable[..., Array]] = {
    ("softmax", "cross_entropy"): kernels.softmax_cross_entropy,
    ("sigmoid", "binary_cross_entropy"): kernels.sigmoid_bce,
    ("identity", "quadratic"): kernels.identity_quadratic,
}
CANONICAL: dict[tuple[str, str], Canonical] = {pair: Canonical(cost) for pair, cost in FUSED.items()}
# softmax + cross-entropy is exactly δᴸ = a Σ_k t_k − t, which is a − t when each row of t sums to 1
CANONICAL["softmax", "cross_entropy"] = Canonical(kernels.softmax_cross_entropy, kernels.softmax_cross_entropy_delta)


def fused(activation_name: str, loss: Loss) -> Callable[..., Array] | None:
    """c(z, t, work=None) for a canonical pair (then δᴸ = a − t), or None."""
    return FUSED.get((activation_name, loss.name))


def canonical(activation_name: str, loss: Loss) -> Canonical | None:
    """The canonical pair's c(z, t) and δᴸ(z, a, t), or None when σ_L and c are not one."""
    return CANONICAL.get((activation_name, loss.name))


# --- target domains: where each loss is defined in t (checked where targets enter: data, training, evaluate) ----

CE_SUM_TOL = 1e-6  # a CSV of probabilities printed with 7 digits still sums to 1 within this
REAL_TARGETS = ("quadratic", "gaussian_nll")  # defined for every real t: targets may be standardized
# name -> (the rows of T outside the domain, what the loss needs)
TARGET_DOMAINS: dict[str, tuple[Callable[[Array], Array], str]] = {
    "cross_entropy": (lambda T: np.any(T < 0, axis=1) | (np.abs(T.sum(axis=1) - 1) > CE_SUM_TOL),
                      "a row of probabilities (each ≥ 0, summing to 1) for cross-entropy"),
    "binary_cross_entropy": (lambda T: np.any((T < 0) | (T > 1), axis=1),
                             "targets in [0, 1] for binary cross-entropy"),
    "itakura_saito": (lambda T: np.any(T <= 0, axis=1),
                      "targets > 0 for Itakura–Saito (log t/a is undefined otherwise)"),
}
