"""The one protocol both engines keep: what gradcheck, the trace, derive and training may ask of a network.

The layered engine (:class:`~deltaprop.engine.layered.Network`) and the graph engine
(:class:`~deltaprop.engine.graph.GraphNetwork`) run the same recursion at two scales (z and a forward, δ backward,
∂C/∂θ from a δ); code above the engines is written against :class:`Engine` and never asks which engine it has.
Values entering either engine pass the same rules (:mod:`deltaprop.checks`: dtype, reduction, finite parameter
arrays, batches of numbers), so the two cannot drift in what they accept.

Shapes: X (N, n_inputs), T (N, n_outputs), a row per sample. The batch cost C is the mean of the per-sample
losses c ("mean") or their sum ("sum"); every gradient is of C.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DeltapropError
from .losses import Loss

Array = np.ndarray


@runtime_checkable
class Gradients(Protocol):
    """What ``backward`` gives: ∂C/∂θ for every parameter array (in the order of ``Engine.params``), ∂C/∂X, C."""

    X: Array | None
    cost: float

    def params(self) -> list[Array]: ...


@runtime_checkable
class Engine(Protocol):
    """A feed-forward network that runs forward and backward on a batch.

    ``params()`` are the network's own arrays: changing one in place (an optimizer, the gradient check) changes
    the network. ``forward`` returns the engine's trace of z and a (its own type); ``backward`` takes it back.
    """

    dtype: np.dtype
    loss: Loss
    reduction: str  # "mean" or "sum"

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    @property
    def analytic(self) -> bool:  # every function holomorphic: the complex-step check applies
        ...

    @property
    def fused(self) -> Any:  # c(z, t) of a canonical output/loss pair (then δᴸ = a − t), else None
        ...

    def forward(self, X) -> Any: ...

    def backward(self, trace: Any, T) -> Gradients: ...

    def loss_and_grads(self, X, T) -> Gradients: ...

    def cost(self, X, T) -> float: ...

    def predict(self, X) -> Array: ...

    def params(self) -> list[Array]: ...

    def param_names(self) -> list[str]: ...

    def astype(self, dtype) -> Engine: ...


def named_params(net: Engine) -> list[tuple[str, Array]]:
    """(name, array) for every parameter array: ("W1", W1), ("b1", b1), … or ("w", w), ("b", b)."""
    return list(zip(net.param_names(), net.params()))


def get_params(net: Engine) -> list[Array]:
    """Copies of the parameter arrays (a snapshot to restore with :func:`set_params`)."""
    return [p.copy() for p in net.params()]


def set_params(net: Engine, values: list[Array]) -> None:
    """Write ``values`` into the network's own arrays, in place (shapes must match, in ``params()`` order)."""
    params = net.params()
    if len(values) != len(params):
        raise DeltapropError(f"the network has {len(params)} parameter arrays, got {len(values)}")
    for p, v in zip(params, values):
        p[...] = v
