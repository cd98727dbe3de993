"""Activations a = σ(z) and their derivatives σ′(z).

Every activation is an :class:`Activation`: ``f(z, out)`` gives a, ``df(z, a, out)`` gives σ′(z) element by
element (it may use the stored a, which is cheaper: σ′ = a(1 − a) for the sigmoid, 1 − a² for tanh).
``delta(z, a, grad_a, out)`` turns ∂c/∂a into δ = ∂c/∂z; for element-wise activations that is
∂c/∂a ⊙ σ′(z) (the notes' equation δᴸ = ∇ₐc ⊙ σ′(zᴸ)); softmax couples its outputs and uses its Jacobian.

Arrays are (N, n): one row a sample. Every function takes ``out=`` so the training loop can reuse buffers.
Activations marked ``analytic`` also accept complex z, which the complex-step gradient check needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernels
from ..errors import DeltapropError

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[..., Array]  # f(z, out=None) -> a
    df: Callable[..., Array]  # df(z, a, out=None) -> σ'(z), element-wise
    analytic: bool = True  # holomorphic: the complex step works through it
    elementwise: bool = True
    formula: str | None = None  # the same function in z, as SymPy text (for derivations)

    def delta(self, z: Array, a: Array, grad_a: Array, out: Array | None = None, work: Array | None = None) -> Array:
        """δ = ∂c/∂z from ∂c/∂a, each (N, n); ``out`` may be ``grad_a`` itself, ``work`` holds σ′(z)."""
        if self.elementwise:
            return np.multiply(grad_a, self.df(z, a, out=work), out=out)
        return softmax_delta(a, grad_a, out=out)

    def forward(self, z: Array, out: Array, work: dict | None = None) -> Array:
        """a = σ(z) into ``out``; ``work`` keeps the scratch arrays of an activation that needs some (softmax)."""
        return self.f(z, out=out) if self.elementwise else self.f(z, out=out, work=work)

    def __call__(self, z: Array) -> Array:
        return self.f(np.asarray(z))


def _out(z: Array, out: Array | None) -> Array:
    return np.empty_like(z) if out is None else out


# --- the functions -------------------------------------------------------------------------------------------


def _identity(z, out=None):  # a copy, so a and z never alias
    out = _out(z, out)
    np.copyto(out, z)
    return out


def _ones(z, a, out=None):
    out = _out(z, out)
    out.fill(1)
    return out


def _sigmoid(z, out=None):
    # 1/(1 + e^−z) in four vectorised passes: numpy's SIMD exp makes this ~1.5× faster than scipy's expit
    # (a scalar loop) in float32. No step cancels, so a is within a few ulps of σ(z) for every z; where e^−z
    # overflows (z below about −88 in float32, −709 in float64) a = 1/inf = 0, σ(z) rounded to the normal
    # range. It also takes complex z, for the complex-step check.
    out = _out(z, out)
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1
    return np.divide(1, out, out=out)


def _sigmoid_prime(z, a, out=None):
    out = _out(a, out)
    np.subtract(1, a, out=out)
    return np.multiply(out, a, out=out)  # σ' = σ(1 − σ), from the stored a


def _tanh(z, out=None):
    return np.tanh(z, out=_out(z, out))


def _tanh_prime(z, a, out=None):
    out = _out(a, out)
    np.multiply(a, a, out=out)
    return np.subtract(1, out, out=out)  # 1 − tanh²


def _relu(z, out=None):
    out = _out(z, out)
    if np.may_share_memory(z, out):
        return np.maximum(z, 0, out=out)
    # max(z, 0) against an array of zeros: numpy's float32 maximum with a scalar operand takes a slow
    # broadcasting loop (~4× slower here), with a same-shape array it runs its SIMD loop. Same values.
    out.fill(0)
    return np.maximum(z, out, out=out)


def _relu_prime(z, a, out=None):
    # 1 where z > 0 and 0 elsewhere (σ'(0) = 0, as PyTorch), from the stored a = max(z, 0) ≥ 0 as ceil(min(a, 1)),
    # exact for every a down to the subnormals. min against an array of ones and ceil run NumPy's SIMD loops, in
    # about half the time of sign(a) (a min against the scalar 1 takes a slow loop, as in _relu); unlike
    # np.greater(a, 0) cast to float it needs no casting buffer, so the training step allocates nothing.
    out = _out(a, out)
    if np.may_share_memory(a, out) or np.iscomplexobj(a):
        return np.sign(a, out=out)
    out.fill(1)
    np.minimum(a, out, out=out)
    return np.ceil(out, out=out)


LEAKY_SLOPE = 0.01  # PyTorch's default negative slope


def _leaky_relu(z, out=None):
    out = _out(z, out)
    np.multiply(z, LEAKY_SLOPE, out=out)
    return np.maximum(z, out, out=out)


def _leaky_relu_prime(z, a, out=None):
    out = _out(z, out)
    np.greater(z, 0, out=out, casting="unsafe")
    out *= 1 - LEAKY_SLOPE
    out += LEAKY_SLOPE
    return out


def _softplus(z, out=None):
    if np.iscomplexobj(z):
        return np.log1p(np.exp(z), out=out)
    return np.logaddexp(0, z, out=_out(z, out))  # log(1 + e^z) without overflow


def _softplus_prime(z, a, out=None):
    return _sigmoid(z, out=out)


def _square(z, out=None):
    return np.multiply(z, z, out=_out(z, out))  # ρ(z) = z², the output of seed 004


def _square_prime(z, a, out=None):
    return np.multiply(z, 2, out=_out(z, out))


def softmax(z: Array, out: Array | None = None, work: dict | None = None) -> Array:
    """Row-wise softmax, shifted by the row maximum so that no exp overflows; ``work`` (a kernels Workspace or
    any dict) keeps its scratch arrays, so that it runs without allocating anything."""
    return kernels.softmax(z, _out(z, out), work)


def log_softmax(z: Array) -> Array:
    """Row-wise log softmax z − logsumexp(z), stable for any z (also complex z with small imaginary parts)."""
    shift = np.max(z.real, axis=1, keepdims=True)
    zs = z - shift
    return zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))


def _softmax_diag(z, a, out=None):
    # the diagonal of the Jacobian, ∂a_j/∂z_j = a_j(1 − a_j); shown in tables, never used for δ
    return _sigmoid_prime(z, a, out=out)


def softmax_delta(a: Array, grad_a: Array, out: Array | None = None) -> Array:
    """δ_j = Σ_k ∂c/∂a_k ∂a_k/∂z_j = a_j (g_j − Σ_k g_k a_k): the softmax Jacobian times g = ∂c/∂a."""
    out = _out(a, out)
    dot = np.einsum("ij,ij->i", grad_a, a)[:, None]
    np.subtract(grad_a, dot, out=out)
    return np.multiply(out, a, out=out)


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation("identity", _identity, _ones, formula="z"),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_prime, formula="1/(1 + exp(-z))"),
    "tanh": Activation("tanh", _tanh, _tanh_prime, formula="tanh(z)"),
    "relu": Activation("relu", _relu, _relu_prime, analytic=False, formula="Max(z, 0)"),
    "leaky_relu": Activation(
        "leaky_relu", _leaky_relu, _leaky_relu_prime, analytic=False, formula=f"Max(z, {LEAKY_SLOPE}*z)"
    ),
    "softplus": Activation("softplus", _softplus, _softplus_prime, formula="log(1 + exp(z))"),
    "square": Activation("square", _square, _square_prime, formula="z**2"),
    "softmax": Activation("softmax", softmax, _softmax_diag, elementwise=False),
}
ALIASES = {"linear": "identity", "logistic": "sigmoid", "lrelu": "leaky_relu"}


def get(spec: str | Activation) -> Activation:
    """An activation by registry name, or from a formula in z such as ``"z**2"`` or ``"tanh(2*z)"``."""
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise DeltapropError(f"activation must be a name or a formula string, not {type(spec).__name__}")
    name = ALIASES.get(spec.strip().lower(), spec.strip().lower())
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    from . import formulas  # a formula such as "z**2"; imported late because SymPy is slow to load

    g = formulas.activation(spec)
    return Activation(g.name, g.f, g.df, analytic=g.analytic, formula=g.formula)
