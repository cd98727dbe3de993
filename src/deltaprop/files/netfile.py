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

Neuron-level form (``[neurons.ID]`` tables), for :class:`~deltaprop.engine.graph.GraphNetwork`::

    inputs = ["1", "2"]          # the input ids, the columns of X in order
    outputs = ["6"]              # optional: default, the neurons that feed no other
    activation = "sigmoid"       # optional default for every neuron
    [neurons.3]
    weights = { "1" = 0.5, "2" = -0.3 }    # w_ij from each i into this neuron j
    bias = 0.1
    activation = "tanh"
    [sample]
    x = { "1" = 0.7, "2" = -1.2 }          # or a list in the order of inputs
    t = { "6" = 1.5 }                      # or a list in the order of outputs

Both forms share [loss], dtype and one [sample] reader. Commands read a file with :func:`read`, which gives
a :class:`NetworkFile` (the network and its :class:`Sample`), never the TOML document itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine import losses as loss_mod
from . import safe as safefile
from ..errors import DeltapropError
from .. import checks
from ..checks import finite_array
from .. import limits
from ..limits import MAX_LAYER_WEIGHTS, NETWORK_FILE_BYTES
from ..engine.graph import GraphNetwork
from ..engine.layered import Network



@dataclass(frozen=True)
class Sample:
    """The file's own batch of one: X (1, n_inputs) and T (1, n_outputs), in the network's column order."""

    X: np.ndarray
    T: np.ndarray

    def __iter__(self):  # X, T = sample
        return iter((self.X, self.T))


@dataclass(frozen=True)
class NetworkFile:
    """What a network file holds: the network (either engine), its optional [sample], and where it came from."""

    network: Network | GraphNetwork
    sample: Sample | None
    source: str


def read_toml(path: str | Path) -> dict:
    return safefile.parse_toml(safefile.read_text(path, "network", NETWORK_FILE_BYTES), str(path))


def read(path: str | Path, *, with_sample: bool = True, **overrides) -> NetworkFile:
    """Read a network file of either form, with its [sample] (``with_sample=False``: the [sample] is not read,
    for a command that was given its batch another way). ``path`` may name a bundled example: ``"exam_004"``."""
    from . import bundled

    path = bundled.find(checks.path_arg(path, "path"))
    doc = read_toml(path)
    net = from_dict(doc, source=str(path), **overrides)
    return NetworkFile(net, sample(doc, net, str(path)) if with_sample else None, str(path))


def load(path: str | Path, **overrides):
    """Read a network file of either form (or a bundled example by name: ``load("exam_004")``). The file's
    [sample], if it has a usable one, is kept as ``net.sample`` (X, T) for displays: a notebook shows the
    network after forward and backward on it."""
    try:
        f = read(path, **overrides)
    except DeltapropError:
        f = read(path, with_sample=False, **overrides)  # a broken [sample] does not stop the network loading
    f.network.sample = f.sample
    return f.network


def from_dict(doc: dict, source: str = "<network>", **overrides):
    if "neurons" in doc:
        return graph_from_dict(doc, source=source, **overrides)
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
    return spec, params, checks.reduction(loss.get("reduction", "mean"), f"{source}: [loss]")


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
        if sizes[-1] * sizes[-2] > MAX_LAYER_WEIGHTS:
            raise DeltapropError(f"{where}: {sizes[-2]}×{sizes[-1]} weights exceed the limit of {MAX_LAYER_WEIGHTS}")
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


def _id(value, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DeltapropError(f"{where}: neuron ids must be strings, got {value!r}")
    return str(value)


def graph_from_dict(doc: dict, source: str = "<network>", **overrides) -> GraphNetwork:
    """A :class:`GraphNetwork` from a neuron-level document (see the module text for the format)."""
    if "inputs" not in doc or not isinstance(doc["inputs"], list) or not doc["inputs"]:
        raise DeltapropError(f"{source}: 'inputs' must list the input neuron ids, e.g. inputs = [\"1\", \"2\"]")
    inputs = [_id(i, f"{source}: inputs") for i in doc["inputs"]]
    table = doc["neurons"]
    if not isinstance(table, dict) or not table:
        raise DeltapropError(f"{source}: [neurons.ID] must be tables, one per non-input neuron")
    limits.check("graph_neurons", len(table) + len(inputs), source, "the number of neurons")
    default_act = doc.get("activation", "sigmoid")
    neurons, src, dst, w, bias, acts = [], [], [], [], [], []
    for j, spec in table.items():
        where = f"{source}: neuron {j!r}"
        if not isinstance(spec, dict):
            raise DeltapropError(f"{where}: must be a table with weights, bias and optionally activation")
        if j in inputs:
            raise DeltapropError(f"{where} is an input (listed in inputs): an input takes no weights or bias")
        unknown = set(spec) - {"weights", "bias", "activation"}
        if unknown:
            raise DeltapropError(f"{where}: unknown key(s) {sorted(unknown)}; use weights, bias, activation")
        weights = spec.get("weights")
        if not isinstance(weights, dict) or not weights:
            raise DeltapropError(f"{where}: needs weights = {{ \"i\" = w_ij, … }} from at least one neuron")
        for i, value in weights.items():
            src.append(i)
            dst.append(j)
            w.append(checks.finite_number(value, f"{where}: weight from {i!r}"))
        act = spec.get("activation", default_act)
        if not isinstance(act, str):
            raise DeltapropError(f"{where}: activation must be a string, got {act!r}")
        neurons.append(j)
        bias.append(checks.finite_number(spec.get("bias", 0.0), f"{where}: bias"))
        acts.append(act)
    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list) or not outputs:
            raise DeltapropError(f"{source}: 'outputs' must list output neuron ids")
        outputs = [_id(o, f"{source}: outputs") for o in outputs]
    spec, params, reduction = loss_spec(doc, source)
    settings = dict(loss=spec, loss_params=params, reduction=reduction, dtype=doc.get("dtype", "float64"))
    settings.update(overrides)
    try:
        return GraphNetwork(inputs, neurons, src, dst, w, bias, acts, outputs, source=source, **settings)
    except DeltapropError as e:
        msg = str(e)
        raise DeltapropError(msg if msg.startswith(source) else f"{source}: {msg}") from None


def sample(doc: dict, net: Network | GraphNetwork, source: str = "<network>") -> Sample | None:
    """The optional [sample] of a file of either form: x and t as lists in the order of the network's inputs and
    outputs, or (neuron-level files) as tables { id = value }. None when the file has no [sample]."""
    s = doc.get("sample")
    if s is None:
        return None
    if not isinstance(s, dict) or "x" not in s or "t" not in s:
        raise DeltapropError(f"{source}: [sample] needs both x and t: x = the inputs, t = the targets")
    ids = (net.ids[:net.n_inputs], net.outputs) if isinstance(net, GraphNetwork) else (None, None)
    x = _sample_row(s["x"], "x", net.n_inputs, ids[0], "inputs", source)
    t = _sample_row(s["t"], "t", net.n_outputs, ids[1], "outputs", source)
    return Sample(x, t)


def _sample_row(values, key: str, n: int, ids: list[str] | None, role: str, source: str) -> np.ndarray:
    """One row (1, n) of [sample]: a list of n numbers, or a table naming each of ``ids`` once."""
    where = f"{source}: [sample] {key}"
    if isinstance(values, dict) and ids is not None:
        extra = set(values) - set(ids)
        if extra:
            raise DeltapropError(f"{where} names {sorted(extra)}, which are not {role} ({ids})")
        missing = [i for i in ids if i not in values]
        if missing:
            raise DeltapropError(f"{where} is missing a value for neuron {missing[0]!r}")
        values = [values[i] for i in ids]
    if not isinstance(values, list):
        form = "a list of numbers or a table { id = value }" if ids is not None else "a list of numbers"
        raise DeltapropError(f"{where} must be {form}")
    if len(values) != n:
        raise DeltapropError(f"{where} has {len(values)} values for {n} {role}")
    row = [checks.finite_number(v, f"{where} value {k + 1}" if ids is None else f"{where} value for {ids[k]!r}")
           for k, v in enumerate(values)]
    return checks.finite_array([row], (1, n), where)
