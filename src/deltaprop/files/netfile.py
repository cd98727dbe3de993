"""Network files (TOML) → a network of either engine.

Layered form (``[[layer]]`` tables)::

    inputs = 3
    [[layer]]
    size = 4
    activation = "tanh"          # a registry name or a formula in z
    weights = [[...], ...]       # optional, (size, previous size): W[j][k] from k to j
    bias = [...]                 # optional, (size,)
    [loss]
    name = "cross_entropy"       # or formula = "…" ; sigma2 = … for gaussian_nll
    reduction = "mean"           # or "sum"
    [init]
    seed = 0
    scheme = "glorot"
    [sample]                     # optional: one sample to trace without a data file
    x = [...]
    t = [...]

Neuron-level form (``[neurons.ID]`` tables) is read by :mod:`deltaprop.graph`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine import losses as loss_mod
from . import safe as safefile
from ..errors import DeltapropError
from ..checks import finite_array
from ..engine.layered import Network

MAX_FILE_BYTES = 16 * 2**20  # a network file is text written by a person; larger is a mistake or hostile
MAX_UNITS = 1_000_000  # weights a file may declare (sizes are read before anything is allocated)


def read_toml(path: str | Path) -> dict:
    return safefile.parse_toml(safefile.read_text(path, "network", MAX_FILE_BYTES), str(path))


def load(path: str | Path, **overrides):
    """Read a network file of either form (or a bundled example by name: ``load("exam_004")``)."""
    from . import bundled

    path = bundled.find(path)
    doc = read_toml(path)
    net = from_dict(doc, source=str(path), **overrides)
    if "sample" in doc:  # kept for displays (a notebook draws the network run on it); None if unusable
        try:
            net.sample = net.default_batch(doc) if hasattr(net, "default_batch") else sample(doc, str(path))
        except DeltapropError:
            net.sample = None
    return net


def from_dict(doc: dict, source: str = "<network>", **overrides):
    if "neurons" in doc:
        from ..engine import graph

        return graph.from_dict(doc, source=source, **overrides)
    if "layer" in doc:
        return layered_from_dict(doc, source=source, **overrides)
    raise DeltapropError(f"{source}: no [[layer]] tables and no [neurons.ID] tables: nothing to build")


def _int(value, what: str, source: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DeltapropError(f"{source}: {what} must be an integer ≥ {minimum}, got {value!r}")
    return value


def _table(doc: dict, key: str, source: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise DeltapropError(f"{source}: [{key}] must be a table")
    return value


def loss_spec(doc: dict, source: str) -> tuple[str, dict, str]:
    """(name or formula, settings, reduction) from the optional [loss] table."""
    loss = _table(doc, "loss", source)
    if "name" in loss and "formula" in loss:
        raise DeltapropError(f"{source}: [loss] gives both name and formula; give one")
    spec = loss.get("formula", loss.get("name", "quadratic"))
    if not isinstance(spec, str):
        raise DeltapropError(f"{source}: [loss] name/formula must be a string, got {spec!r}")
    if "formula" not in loss and not loss_mod.is_name(spec):
        raise DeltapropError(f"{source}: [loss] unknown name {spec!r}; choose from {', '.join(loss_mod.LOSSES)}, "
                             "or give formula = \"…\" in a and t")
    params = {k: v for k, v in loss.items() if k == "sigma2"}
    reduction = loss.get("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise DeltapropError(f"{source}: [loss] reduction must be \"mean\" or \"sum\", got {reduction!r}")
    return spec, params, reduction


def layered_from_dict(doc: dict, source: str = "<network>", **overrides) -> Network:
    if "inputs" not in doc:
        raise DeltapropError(f"{source}: missing key 'inputs' (the number of inputs n0)")
    n0 = _int(doc["inputs"], "inputs", source)
    layers = doc["layer"]
    if not isinstance(layers, list) or not layers or not all(isinstance(t, dict) for t in layers):
        raise DeltapropError(f"{source}: [[layer]] must be a list of tables, one per layer")
    sizes, acts, Ws, bs = [n0], [], [], []
    for i, layer in enumerate(layers, start=1):
        where = f"{source}: layer {i}"
        if "size" not in layer:
            raise DeltapropError(f"{where}: missing key 'size'")
        sizes.append(_int(layer["size"], f"layer {i} size", source))
        if sizes[-1] * sizes[-2] > MAX_UNITS:
            raise DeltapropError(f"{where}: {sizes[-2]}×{sizes[-1]} weights exceed the limit of {MAX_UNITS}")
        act = layer.get("activation", "sigmoid")
        if not isinstance(act, str):
            raise DeltapropError(f"{where}: activation must be a string, got {act!r}")
        acts.append(act)
        Ws.append(_array(layer.get("weights"), (sizes[-1], sizes[-2]), f"{where} weights"))
        bs.append(_array(layer.get("bias"), (sizes[-1],), f"{where} bias"))
    spec, params, reduction = loss_spec(doc, source)
    init = _table(doc, "init", source)
    seed = init.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DeltapropError(f"{source}: [init] seed must be an integer ≥ 0, got {seed!r}")
    settings = dict(
        activations=acts, loss=spec, loss_params=params, reduction=reduction, W=Ws, b=bs,
        init=init.get("scheme", "glorot"), seed=seed, dtype=doc.get("dtype", "float64"),
    )
    settings.update(overrides)
    try:
        return Network(sizes, **settings)
    except DeltapropError as e:
        raise DeltapropError(f"{source}: {e}") from None


def _array(value, shape: tuple, what: str):
    return None if value is None else finite_array(value, shape, what)


def sample(doc: dict, source: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The optional [sample] of a layered file: x (n0,) and t (nL,)."""
    s = doc.get("sample")
    if s is None:
        return None
    if not isinstance(s, dict) or "x" not in s or "t" not in s:
        raise DeltapropError(f"{source}: [sample] needs both x and t")
    try:
        x = np.array(s["x"], dtype=float).reshape(1, -1)
        t = np.array(s["t"], dtype=float).reshape(1, -1)
    except (TypeError, ValueError):
        raise DeltapropError(f"{source}: [sample] x and t must be lists of numbers") from None
    return x, t
