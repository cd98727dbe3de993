"""The layered engine: backpropagation a whole layer and a whole mini-batch at a time.

Notation (Nielsen, seed 002), with rows as samples so that a batch is one matrix product per layer:

    z[l] = a[l-1] Wᵀ[l] + b[l]          (N, n_l)     W[l]: (n_l, n_{l-1}), W[l][j, k] from k to j
    a[l] = σ_l(z[l])                     (N, n_l)     a[-1] is the input X
    δ[L] = ∇ₐc ⊙ σ′(z[L])   (= a − t for the canonical pairs, see losses.py)
    δ[l] = (δ[l+1] W[l+1]) ⊙ σ′(z[l])
    ∂C/∂W[l] = s δ[l]ᵀ a[l-1],   ∂C/∂b[l] = s Σ_n δ[l],   s = 1/N ("mean") or 1 ("sum")

Layers are numbered 0 … L−1 here (the notes' 1 … L). δ is per sample, ∂c/∂z of that sample's own loss c;
the gradients are those of the batch cost C. ``forward`` and ``backward`` take an optional :class:`Trace` /
:class:`Grads` to write into, so the training loop reuses its arrays and allocates nothing per step; every
scratch array and BLAS call lives in the trace's :class:`~deltaprop.engine.kernels.Workspace` (the one
performance seam), and the canonical pairs' δᴸ = a − t comes from the loss side (:func:`losses.canonical`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import activations as act_mod
from . import losses as loss_mod
from .activations import Activation
from .kernels import Workspace
from ..checks import REDUCTIONS, as_array, as_dtype, engine_dtype, finite_array
from ..errors import DeltapropError, DeltapropTypeError
from .losses import Loss

Array = np.ndarray
MAX_PARAMS = 2**25  # 256 MiB of float64 weights; more is a typo (--hidden 100000000), not a network for a CPU
# --- initialisation: every scheme draws from an explicit generator ---------------------------------------------


def _normal(rng, n_out, n_in):  # N(0, 1) weights and biases, as in the notes and Nielsen's first network
    return rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)


def _nielsen(rng, n_out, n_in):  # N(0, 1/n_in): keeps z of order 1 (Nielsen, chapter 3)
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)


def _glorot(rng, n_out, n_in):  # U(±√(6/(n_in+n_out))): Glorot & Bengio 2010, PyTorch's xavier_uniform_
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)


def _he(rng, n_out, n_in):  # N(0, 2/n_in): He et al. 2015, for ReLU layers
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITS = {"normal": _normal, "nielsen": _nielsen, "glorot": _glorot, "xavier": _glorot, "he": _he}


def rng_from(seed) -> np.random.Generator:
    """The generator of ``seed``: a Generator as given, or a new one from a non-negative integer (or None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))):
        raise DeltapropTypeError(f"seed must be a non-negative integer or a numpy Generator, not "
                                 f"{type(seed).__name__}")
    if seed is not None and seed < 0:
        raise DeltapropError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(seed)


# --- the network ----------------------------------------------------------------------------------------------


@dataclass
class Trace:
    """What the forward pass stores: per layer z and a, each (N, n_l); X is (N, n_0)."""

    X: Array
    z: list[Array]
    a: list[Array]
    work: Workspace = field(default_factory=Workspace, repr=False)  # the kernels' arrays and plans for this batch


@dataclass
class Grads:
    """What the backward pass gives: per-sample δ per layer, ∂C/∂W, ∂C/∂b, ∂C/∂X, and the cost C."""

    delta: list[Array]
    W: list[Array]
    b: list[Array]
    sigma_prime: list[Array]  # σ′(z) per layer, a work buffer for δ = (δ W) ⊙ σ′(z)
    X: Array | None = None
    cost: float = float("nan")

    def params(self) -> list[Array]:
        return [g for pair in zip(self.W, self.b) for g in pair]


class Network:
    """A feed-forward network of any depth.

    ``sizes`` is [n_0, n_1, …, n_L]; ``activations`` one per layer 1 … L (a name, a formula in z, or an
    :class:`Activation`; a single one is used for every hidden layer and then ``output`` for the last).
    """

    def __init__(
        self,
        sizes: list[int],
        activations: str | Activation | list = "sigmoid",
        loss: str | Loss = "quadratic",
        *,
        output: str | Activation | None = None,
        reduction: str = "mean",
        W: list | None = None,
        b: list | None = None,
        init: str = "glorot",
        seed: int | np.random.Generator = 0,
        dtype="float64",
        loss_params: dict | None = None,
    ):
        if not isinstance(sizes, (list, tuple)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
            raise DeltapropError(f"sizes must be a list of whole numbers [n0, n1, …, nL], got {sizes!r}")
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise DeltapropError(f"sizes must list at least an input and an output size, all ≥ 1; got {sizes}")
        n_params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
        if n_params > MAX_PARAMS:  # checked before anything is allocated
            raise DeltapropError(f"a network of sizes {sizes} has {n_params} parameters; the limit is {MAX_PARAMS}")
        L = len(sizes) - 1
        if isinstance(activations, (list, tuple)):
            acts = list(activations)
            if output is not None:
                acts = acts + [output] if len(acts) == L - 1 else acts
        else:
            acts = [activations] * (L - 1) + [output if output is not None else activations]
        if len(acts) != L:
            raise DeltapropError(f"{L} layers need {L} activations, got {len(acts)}")
        self.sizes = sizes
        self.activations: list[Activation] = [act_mod.get(s) for s in acts]
        for i, g in enumerate(self.activations[:-1]):
            if not g.elementwise:
                raise DeltapropError(f"layer {i + 1}: {g.name} is for an output layer only")
        self.loss: Loss = loss_mod.get(loss, **(loss_params or {}))
        if reduction not in REDUCTIONS:
            raise DeltapropError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self.dtype = as_dtype(dtype)
        if not isinstance(init, str) or init not in INITS:
            raise DeltapropError(f"unknown init scheme {init!r}; choose from {sorted(INITS)}")
        self.init = init
        rng = rng_from(seed)
        self.W: list[Array] = []
        self.b: list[Array] = []
        for l in range(L):
            n_in, n_out = sizes[l], sizes[l + 1]
            W0, b0 = INITS[init](rng, n_out, n_in)
            Wl = W0 if W is None or W[l] is None else finite_array(W[l], (n_out, n_in), f"layer {l + 1} weights")
            bl = b0 if b is None or b[l] is None else finite_array(b[l], (n_out,), f"layer {l + 1} bias")
            # Fortran order: W (n_l, n_{l-1}) lies in memory as Wᵀ row by row, so that ∂C/∂W = δᵀ a_prev is
            # computed as its transpose a_prevᵀ δ, the faster product for OpenBLAS (see backward)
            self.W.append(np.array(Wl, dtype=self.dtype, order="F"))
            self.b.append(np.array(bl, dtype=self.dtype))

    # ---- structure ----
    @property
    def L(self) -> int:
        return len(self.W)

    n_inputs = property(lambda self: self.sizes[0], doc="n_0, the columns of X (engine/protocol.py)")
    n_outputs = property(lambda self: self.sizes[-1], doc="n_L, the columns of T (engine/protocol.py)")

    def params(self) -> list[Array]:
        """[W1, b1, W2, b2, …]: the arrays themselves (optimizers update them in place)."""
        return [p for pair in zip(self.W, self.b) for p in pair]

    def param_names(self) -> list[str]:
        return [f"{k}{l + 1}" for l in range(self.L) for k in ("W", "b")]

    @property
    def analytic(self) -> bool:
        """Whether every function is holomorphic, so the complex-step check applies."""
        return self.loss.analytic and all(g.analytic for g in self.activations)

    @property
    def fused(self):
        return loss_mod.fused(self.activations[-1].name, self.loss)

    @property
    def canonical(self) -> loss_mod.Canonical | None:
        """σ_L and c as a canonical pair (c from the logits, δᴸ = a − t), or None."""
        return loss_mod.canonical(self.activations[-1].name, self.loss)

    def astype(self, dtype) -> Network:
        dtype = engine_dtype(dtype)
        net = object.__new__(Network)
        net.__dict__.update(self.__dict__)
        net.dtype = np.dtype(dtype)
        net.W = [w.astype(dtype) for w in self.W]
        net.b = [v.astype(dtype) for v in self.b]
        return net

    def _input(self, X, name="X") -> Array:
        X = as_array(X, name)
        if X.dtype.kind not in "biufc":  # strings, objects: say so here rather than deep inside a product
            raise DeltapropError(f"{name} must hold numbers, got an array of {X.dtype}")
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DeltapropError(f"{name} must have shape (N, {self.sizes[0]}), got {X.shape}")
        if X.dtype != self.dtype and not np.iscomplexobj(X):
            X = X.astype(self.dtype)
        return X

    def _target(self, T, N) -> Array:
        T = as_array(T, "T")
        if T.dtype.kind not in "biufc":
            raise DeltapropError(f"T must hold numbers, got an array of {T.dtype}")
        if T.ndim == 1 and self.sizes[-1] == 1 and T.shape[0] == N:
            T = T[:, None]
        elif T.ndim == 1:
            T = T[None, :]
        if T.shape != (N, self.sizes[-1]):
            raise DeltapropError(f"T must have shape ({N}, {self.sizes[-1]}), got {T.shape}")
        return T.astype(self.dtype) if T.dtype != self.dtype else T

    # ---- forward ----
    def forward(self, X, trace: Trace | None = None) -> Trace:
        """Store z and a of every layer for the batch X (N, n_0)."""
        X = self._input(X)
        if trace is None or trace.X.shape != X.shape or trace.z[0].dtype != np.result_type(X, self.W[0]):
            dt = np.result_type(X, self.W[0])
            N = X.shape[0]
            trace = Trace(X, [np.empty((N, n), dt) for n in self.sizes[1:]],
                          [np.empty((N, n), dt) for n in self.sizes[1:]])
        trace.X = X
        a_prev = X
        for W, b, g, z, a in zip(self.W, self.b, self.activations, trace.z, trace.a):
            trace.work.affine(a_prev, W, b, out=z, spare=a)  # z = a_prev Wᵀ + b (a is written next)
            g.forward(z, out=a, work=trace.work)  # a = σ(z)
            a_prev = a
        return trace

    def predict(self, X) -> Array:
        """The output activations aᴸ, (N, n_L)."""
        return self.forward(X).a[-1]

    def cost_per_sample(self, trace: Trace, T, work: dict | None = None) -> Array:
        """c of each sample, (N,): from the logits for a canonical pair (in ``work``'s arrays if given)."""
        T = self._target(T, trace.X.shape[0])
        pair = self.canonical
        return pair.cost(trace.z[-1], T, work) if pair else self.loss.value(trace.a[-1], T)

    def cost(self, X, T) -> float:
        c = self.cost_per_sample(self.forward(X), T)
        return c.mean() if self.reduction == "mean" else c.sum()

    # ---- backward ----
    def backward(self, trace: Trace, T, grads: Grads | None = None, *, input_grad: bool = True,
                 scale: float | None = None, weight_grads: bool = True) -> Grads:
        """δ of every layer, ∂C/∂W, ∂C/∂b and (with ``input_grad``) ∂C/∂X for the batch in ``trace``.

        With ``scale`` = k the pass gives the gradients of k·C instead: k is folded into δᴸ, and the recursion
        is linear in δ, so every δ below and every gradient comes out multiplied at no extra cost. ``delta``
        then holds ∂(kC)/∂z = k s δ, and ``grads.cost`` is still C. With ``weight_grads=False`` ``grads.W`` is
        left unwritten (plain SGD adds δᵀ a_prev to W in one product instead, :meth:`add_step`).
        """
        N = trace.X.shape[0]
        T = self._target(T, N)
        grads = self._grads_for(trace, grads)
        if self.loss.check is not None:
            self.loss.check(trace.a[-1], T)
        s = 1.0 / N if self.reduction == "mean" else 1.0  # a Python float: float32 stays float32
        z, a, delta, W, ws = trace.z, trace.a, grads.delta, self.W, trace.work
        a_prev = [trace.X] + a[:-1]
        # δᴸ = ∇ₐc ⊙ σ′(zᴸ), or a − t for a canonical pair (the loss side knows which)
        self._output_delta(z[-1], a[-1], T, delta[-1], grads.sigma_prime[-1], ws)
        if scale is not None:
            delta[-1] *= float(scale) * s  # δᴸ of k·C, s folded in with k: the gradients below take no s
            s = 1.0
        for l in reversed(range(self.L)):
            if weight_grads:
                ws.weight_grad(l, delta[l], a_prev[l], grads.W[l], s)  # ∂C/∂W = s δᵀ a_prev
            ws.bias_grad(delta[l], grads.b[l], s)  # ∂C/∂b = s Σ_n δ
            if l > 0:  # δ[l-1] = (δ[l] W[l]) ⊙ σ′(z[l-1])
                np.matmul(delta[l], W[l], out=delta[l - 1])
                self.activations[l - 1].delta(z[l - 1], a[l - 1], delta[l - 1], delta[l - 1], grads.sigma_prime[l - 1])
            elif input_grad:
                grads.X = np.matmul(delta[0], W[0]) * s  # ∂C/∂X = s δ W
        c = self.cost_per_sample(trace, T, ws)
        grads.cost = np.add.reduce(c) / N if self.reduction == "mean" else np.add.reduce(c)  # as c.mean(), c.sum()
        return grads

    def _output_delta(self, z: Array, a: Array, T: Array, out: Array, sigma_prime: Array, ws: Workspace) -> None:
        pair = self.canonical
        if pair is not None:
            pair.delta(z, a, T, out=out, work=ws)
        else:
            self.activations[-1].delta(z, a, self.loss.grad(a, T), out, sigma_prime)

    def _grads_for(self, trace: Trace, grads: Grads | None) -> Grads:
        """``grads`` if its arrays fit the batch in ``trace``, else new ones."""
        z = trace.z
        if grads is None or grads.delta[0].shape != z[0].shape or grads.delta[0].dtype != z[0].dtype:
            dt = z[0].dtype
            grads = Grads([np.empty_like(zl) for zl in z], [np.empty_like(W, dtype=dt) for W in self.W],
                          [np.empty(b.shape, dt) for b in self.b], [np.empty_like(zl) for zl in z])
        return grads

    def add_step(self, trace: Trace, grads: Grads) -> None:
        """θ ← θ + Δθ after ``backward(trace, T, grads, scale=-η, weight_grads=False)``: b ← b + Δb, and
        W ← W + δᵀ a_prev (δ already carries −η s), the products done by the kernels without writing ΔW out."""
        for l in range(self.L):
            trace.work.add_weight_grad(l, grads.delta[l], trace.X if l == 0 else trace.a[l - 1], self.W[l])
            self.b[l] += grads.b[l]

    def loss_and_grads(self, X, T) -> Grads:
        """Forward and backward on one batch; the cost is ``grads.cost``."""
        return self.backward(self.forward(X), T)

    def __repr__(self) -> str:
        acts = ", ".join(g.name for g in self.activations)
        return f"Network(sizes={self.sizes}, activations=[{acts}], loss={self.loss.name!r}, dtype={self.dtype.name})"
