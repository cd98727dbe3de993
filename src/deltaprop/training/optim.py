"""Optimizers: θ ← θ − η · (a direction built from ∂C/∂θ), with explicit state.

Every optimizer is one general update with settings, as in tinygrad: plain SGD is momentum 0, Nesterov is a
flag, AdamW is Adam with decoupled weight decay. ``step(params, grads)`` updates the parameter arrays in place
and allocates nothing (state and one work buffer per array are made on the first step), so the training loop
allocates nothing per step. ``state_dict()`` / ``load_state_dict()`` give the state as plain arrays for
checkpoints.

Weight decay λ: for SGD and Adam it is L2 regularisation, g ← g + λθ (the gradient of λ‖θ‖²/2);
for AdamW it is decoupled, θ ← θ − ηλθ (Loshchilov & Hutter 2019).

Learning-rate schedules are functions ``epoch -> factor`` (:func:`schedule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import DeltapropError

Array = np.ndarray


class Optimizer:
    """SGD with optional momentum μ (heavy ball: v ← μv + g; θ ← θ − ηv) and Nesterov (θ ← θ − η(g + μv))."""

    name = "sgd"

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0):
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise DeltapropError(f"learning rate must be a finite number > 0, got {lr!r}")
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise DeltapropError(f"weight decay must be ≥ 0, got {weight_decay!r}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.t = 0  # steps taken
        self.state: dict[str, list[Array]] = {}
        self._work: list[Array] = []  # two scratch arrays per parameter, made on the first step
        self._work2: list[Array] = []

    def _buffers(self, params: list[Array], *names: str) -> None:
        if not self._work:
            self._work = [np.empty_like(p) for p in params]
            self._work2 = [np.empty_like(p) for p in params]
        for n in names:  # outside the test above: state loaded before any step may lack a slot
            if n not in self.state:
                self.state[n] = [np.zeros_like(p) for p in params]

    def _decayed(self, p: Array, g: Array, work: Array) -> Array:
        """g + λθ (L2) in ``work``, or g itself when λ = 0."""
        if self.weight_decay == 0:
            return g
        np.multiply(p, self.weight_decay, out=work)
        return np.add(work, g, out=work)

    folds_lr = False  # see SGD.folds_lr

    def rate(self, lr_factor: float = 1.0) -> float:
        """η of this step: the base rate times the schedule's factor, as a Python float (a NumPy float64 would
        run float32 updates in float64). The one place η is computed."""
        return float(self.lr * lr_factor)

    def minimize(self, net, trace, T, grads=None, lr_factor: float = 1.0, check: Callable | None = None):
        """One update of ``net`` from the batch in ``trace`` (after ``net.forward``): backward, then
        ``check(grads)`` (which may raise before any parameter changes), then θ ← θ − η · direction. The network
        hands over its (parameter, gradient) pairs; the optimizer owns the whole update and counts its steps.
        Returns the gradients (``grads.cost`` is C)."""
        grads = net.backward(trace, T, grads, input_grad=False)
        if check is not None:
            check(grads)
        self.step(net.params(), grads.params(), lr_factor)
        return grads

    def step(self, params: list[Array], grads: list[Array], lr_factor: float = 1.0) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Array]:
        out = {f"{k}.{i}": v for k, arrs in self.state.items() for i, v in enumerate(arrs)}
        out["t"] = np.array(self.t)
        return out

    def load_state_dict(self, d: dict[str, Array], params: list[Array]) -> None:
        self.t = int(d["t"])
        self._work = []
        self.state = {}
        names = sorted({k.split(".")[0] for k in d if "." in k})
        for n in names:
            self.state[n] = []
            for i, p in enumerate(params):
                saved = np.asarray(d[f"{n}.{i}"])
                if saved.shape != p.shape:
                    raise DeltapropError(f"optimizer state {n}.{i} has shape {saved.shape}, the parameter {p.shape}")
                v = np.empty_like(p)  # the parameter's dtype and memory order
                v[...] = saved
                self.state[n].append(v)
        self._buffers(params)


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 fused: bool = True):
        super().__init__(lr, weight_decay)
        self.fused = bool(fused)  # plain SGD's step inside the products (see folds_lr)
        if not 0 <= momentum < 1:
            raise DeltapropError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise DeltapropError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    @property
    def folds_lr(self) -> bool:
        """Plain SGD (no momentum, no weight decay): its step −η ∂C/∂θ needs no state, so the training step folds
        −η into the backward pass and adds the step inside the products (``Network.add_step``) instead of
        writing ∂C/∂θ out and making three passes over it here."""
        return self.fused and self.momentum == 0 and self.weight_decay == 0

    def minimize(self, net, trace, T, grads=None, lr_factor=1.0, check=None):
        if not self.folds_lr:
            return super().minimize(net, trace, T, grads, lr_factor, check)
        # backward gives ∂(−ηC)/∂z, whose products are the step itself: Δb = −η ∂C/∂b, ΔW = (−η s δ)ᵀ a_prev
        grads = net.backward(trace, T, grads, input_grad=False, scale=-self.rate(lr_factor), weight_grads=False)
        if check is not None:
            check(grads)
        net.add_step(trace, grads)  # W ← W + ΔW in the product, b ← b + Δb
        self.t += 1
        return grads

    def step(self, params, grads, lr_factor=1.0):
        self._buffers(params, *(("v",) if self.momentum else ()))
        self.t += 1
        lr = self.rate(lr_factor)
        for i, (p, g) in enumerate(zip(params, grads)):
            work = self._work[i]
            g = self._decayed(p, g, work)
            if self.momentum:
                v = self.state["v"][i]
                v *= self.momentum
                v += g  # v ← μv + g
                if self.nesterov:  # look ahead: g + μv
                    np.multiply(v, self.momentum, out=self._work2[i])
                    g = np.add(self._work2[i], g, out=self._work2[i])
                else:
                    g = v
            np.multiply(g, lr, out=work)
            p -= work


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η m̂/(√v̂ + ε)."""

    name = "adam"
    decoupled = False

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise DeltapropError(f"Adam betas must be in [0, 1), got {betas!r}")
        self.eps = float(eps)

    def step(self, params, grads, lr_factor=1.0):
        self._buffers(params, "m", "v")
        self.t += 1
        lr = self.rate(lr_factor)
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v, work, work2 = self.state["m"][i], self.state["v"][i], self._work[i], self._work2[i]
            if self.decoupled and self.weight_decay:
                p *= 1 - lr * self.weight_decay  # AdamW: θ ← θ − ηλθ, apart from the gradient
            g = g if self.decoupled else self._decayed(p, g, work)
            m *= b1
            np.multiply(g, 1 - b1, out=work2)
            m += work2  # m ← β₁m + (1−β₁)g
            v *= b2
            np.multiply(g, g, out=work2)
            work2 *= 1 - b2
            v += work2  # v ← β₂v + (1−β₂)g²
            # θ ← θ − (η/(1−β₁ᵗ)) m / (√v/√(1−β₂ᵗ) + ε), the bias-corrected step as PyTorch computes it
            np.sqrt(v, out=work)
            work /= math.sqrt(c2)
            work += self.eps
            np.divide(m, work, out=work)
            work *= lr / c1
            p -= work


class AdamW(Adam):
    name = "adamw"
    decoupled = True

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(lr, betas, eps, weight_decay)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def make(name: str, **settings) -> Optimizer:
    """An optimizer by name: sgd (momentum=, nesterov=), adam, adamw; lr= and weight_decay= for all."""
    key = name.lower()
    if key == "nesterov":
        key, settings = "sgd", {"momentum": 0.9, **settings, "nesterov": True}
    elif key == "momentum":
        key, settings = "sgd", {"momentum": 0.9, **settings}
    if key not in OPTIMIZERS:
        raise DeltapropError(f"unknown optimizer {name!r}; choose from sgd, momentum, nesterov, adam, adamw")
    try:
        return OPTIMIZERS[key](**settings)
    except TypeError as e:
        raise DeltapropError(f"optimizer {name!r}: {e}") from None


def schedule(name: str = "constant", epochs: int = 1, step_size: int = 10, gamma: float = 0.1,
             min_factor: float = 0.0) -> Callable[[int], float]:
    """The factor by which the learning rate is multiplied in ``epoch`` (0-based).

    constant: 1; step: γ^⌊epoch/step_size⌋; cosine: annealed from 1 to ``min_factor`` over ``epochs``.
    """
    if name == "constant":
        return lambda epoch: 1.0
    if name == "step":
        if step_size < 1:
            raise DeltapropError("step schedule: step_size must be ≥ 1")
        return lambda epoch: gamma ** (epoch // step_size)
    if name == "cosine":
        span = max(epochs, 1)
        return lambda epoch: min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(epoch, span) / span))
    raise DeltapropError(f"unknown schedule {name!r}; choose from constant, step, cosine")
