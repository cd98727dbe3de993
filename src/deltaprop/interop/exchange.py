"""Model exchange: a trained model out to ONNX, PyTorch, safetensors and TOML, and back in.

Every target carries the whole model, preprocessing included, so that its outputs are the model's:

- **ONNX** (opset ≥ 17): ``X`` (N, n_in) → (X − x_mean)/x_scale → per layer z = a Wᵀ + b, a = σ(z) → for a
  classifier ``probabilities`` (the softmax outputs, N × K) and ``label`` (their argmax, int64, an index into
  the ``classes`` metadata); for a regressor ``output`` = aᴸ·t_scale + t_mean. Built-in activations map to
  ONNX operators; formula activations are translated from their SymPy tree where ONNX has the operators.
- **PyTorch**: an ``nn.Sequential`` [Standardize, Linear, σ, …, Linear, σᴸ(, Unstandardize)] and its
  ``state_dict`` saved with safetensors (never pickle) plus the module list as metadata; such a file, also one
  written by :func:`save_torch` from a network trained in PyTorch, reads back with ``dp.load_model``.
- **safetensors**: the arrays of ``model.npz`` under the same names with the same metadata, bit for bit.
- **TOML**: a layered network file with its weights (``trace``, ``gradcheck`` read it) and a ``[standardize]``
  table with the preprocessing.

The ONNX graph is built in :mod:`.onnx_export`, the PyTorch module in :mod:`.torch_export`, what can be exported
is read by :mod:`.models`; this module is the front door (:func:`export`) and writes safetensors and TOML.
Heavy libraries (onnx, torch, safetensors) are imported inside the functions that need them. Every file is
written to a temporary file beside the target and renamed only when complete, so a refused export writes
nothing and a failed one leaves whatever was there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..engine.activations import ACTIVATIONS
from ..engine.losses import LOSSES
from ..errors import DeltapropError
from ..files import modelfile, safe, tensorfile
from .models import as_model, load_toml, model_of_network
from .onnx_export import OPSET, formula_to_onnx, to_onnx
from .torch_export import SOFTPLUS_THRESHOLD, load_torch, save_torch, to_torch, torch_modules, torch_state

__all__ = ["TARGETS", "OPSET", "export", "as_model", "model_of_network", "load_toml", "model_arrays",
           "check_model_file_ready", "to_toml", "to_graph_toml", "to_onnx", "formula_to_onnx", "to_torch",
           "load_torch", "save_torch", "torch_modules", "torch_state", "SOFTPLUS_THRESHOLD"]

Array = np.ndarray
TARGETS = ("onnx", "torch", "safetensors", "toml")


# --- writing files ------------------------------------------------------------------------------------------------


def _write_bytes(path: Path, data: bytes) -> None:
    """``data`` into a temporary file beside ``path``, fsynced, then renamed over it."""
    safe.write_atomic(path, lambda f: f.write(data), "wb")


def export(model, path: str | Path, to: str | None = None, **options) -> Path:
    """Write ``model`` (see :func:`as_model`) as ``to`` (onnx, torch, safetensors, toml; default from the
    suffix of ``path``). Everything is built and checked in memory first; the file appears only when complete."""
    path = Path(path)
    to = to or {".onnx": "onnx", ".safetensors": "safetensors", ".toml": "toml"}.get(path.suffix)
    if to not in TARGETS:
        raise DeltapropError(f"unknown export target {to!r}; choose from {', '.join(TARGETS)}")
    if not path.parent.is_dir():
        raise DeltapropError(f"{path.parent}: no such directory to write {path.name} into")
    model = as_model(model)
    if to == "onnx":
        data = to_onnx(model, **options).SerializeToString()
    elif to == "torch":
        data = tensorfile.encode(*torch_state(model))
    elif to == "safetensors":
        data = tensorfile.encode(*model_arrays(model))
    else:
        form = options.pop("form", "layers")
        if form not in ("layers", "neurons"):
            raise DeltapropError(f"TOML form must be layers or neurons, got {form!r}")
        data = (to_toml if form == "layers" else to_graph_toml)(model, **options).encode("utf-8")
    _write_bytes(path, data)
    return path


# --- safetensors: the model file's arrays, bit for bit -----------------------------------------------------------


def check_model_file_ready(model) -> None:
    """Model files name activations and losses from the registries only (a formula would have to be parsed
    again on reading); refuse a model with formulas before anything is written."""
    formulas = [g.name for g in model.net.activations if g.name not in ACTIVATIONS]
    if model.net.loss.name not in LOSSES:
        formulas.append(model.net.loss.name)
    if formulas:
        raise DeltapropError(f"a model file holds built-in activations and losses only, not the formula(s) "
                             f"{', '.join(map(repr, formulas))}: export it as TOML instead (--to toml)")


def model_arrays(model) -> tuple[dict[str, Array], dict]:
    """The arrays and metadata of ``model.npz`` (the same names, values and dtypes)."""
    check_model_file_ready(model)
    meta = {"format": modelfile.FORMAT, "version": modelfile.VERSION, "network": modelfile.network_meta(model.net),
            "task": model.task, "classes": model.classes, "feature_names": model.feature_names,
            "target_names": model.target_names, "info": model.info}
    arrays = modelfile.network_arrays(model.net)
    arrays.update(x_mean=model.x_mean, x_scale=model.x_scale)
    if model.task == "regression":
        arrays.update(t_mean=model.t_mean, t_scale=model.t_scale)
    return arrays, meta


# --- TOML: a layered network file with weights -----------------------------------------------------------------


def _num(x) -> str:
    x = float(x)
    if not math.isfinite(x):
        raise DeltapropError(f"cannot write {x} to a network file")
    return repr(x)  # the shortest text that reads back to the same double (and float32 values exactly)


def _vec(v) -> str:
    return "[" + ", ".join(_num(x) for x in np.asarray(v).ravel()) + "]"


def _strings(v) -> str:
    return "[" + ", ".join(json.dumps(str(s)) for s in v) + "]"


def to_toml(model, source: str | None = None) -> str:
    """The model as a layered network file: weights and biases in full precision, the loss, and the
    preprocessing in ``[standardize]`` (the network itself sees (x − x_mean)/x_scale)."""
    model = as_model(model)
    net = model.net
    lines = [f"# deltaprop model{f' exported from {source}' if source else ''}: the network sees standardized "
             "inputs (x - x_mean) / x_scale (see [standardize])",
             f"inputs = {net.sizes[0]}", f"dtype = {json.dumps(net.dtype.name)}"]
    for l in range(net.L):
        g = net.activations[l]
        lines += ["", "[[layer]]", f"size = {net.sizes[l + 1]}", f"activation = {json.dumps(g.name)}",
                  "weights = [" + ", ".join(_vec(row) for row in net.W[l]) + "]", f"bias = {_vec(net.b[l])}"]
    return "\n".join(lines + _tail(model)) + "\n"


def to_graph_toml(model, source: str | None = None) -> str:
    """The model as a neuron-level network file (what ``derive`` reads today): inputs x1 …, hidden neurons
    h{l}n{j} (layer l, neuron j), outputs o1 …; w_ij = W[j, i] of each layer, from neuron i into neuron j."""
    model = as_model(model)
    net = model.net
    if not all(g.elementwise for g in net.activations):
        raise DeltapropError("softmax couples the output neurons, which a neuron-level file cannot hold: export "
                             "the layered form (deltaprop export … --to toml)")
    names = [[f"x{k + 1}" for k in range(net.sizes[0])]]
    names += [[f"h{l + 1}n{j + 1}" for j in range(n)] for l, n in enumerate(net.sizes[1:-1])]
    names.append([f"o{j + 1}" for j in range(net.sizes[-1])])
    lines = [f"# deltaprop model{f' exported from {source}' if source else ''}, neuron by neuron: the network "
             "sees standardized inputs (x - x_mean) / x_scale (see [standardize])",
             f"inputs = {_strings(names[0])}", f"outputs = {_strings(names[-1])}", f"dtype = {json.dumps(net.dtype.name)}"]
    for l in range(net.L):
        for j, name in enumerate(names[l + 1]):
            weights = ", ".join(f"{json.dumps(i)} = {_num(net.W[l][j, k])}" for k, i in enumerate(names[l]))
            lines += ["", f"[neurons.{json.dumps(name)}]", f"activation = {json.dumps(net.activations[l].name)}",
                      f"weights = {{ {weights} }}", f"bias = {_num(net.b[l][j])}"]
    lines += _tail(model)
    return "\n".join(lines) + "\n"


def _tail(model) -> list[str]:
    """[loss], [standardize] and [model], shared by both forms of network file."""
    net = model.net
    lines = ["", "[loss]", f"{'name' if net.loss.name in LOSSES else 'formula'} = {json.dumps(net.loss.name)}",
             f"reduction = {json.dumps(net.reduction)}"]
    lines += [f"{k} = {_num(v)}" for k, v in (net.loss.params or {}).items()]
    lines += ["", "[standardize]", f"x_mean = {_vec(model.x_mean)}", f"x_scale = {_vec(model.x_scale)}"]
    if model.task == "regression":
        lines += ["# the network's targets are (t - t_mean) / t_scale; its outputs times t_scale plus t_mean "
                  "are the model's", f"t_mean = {_vec(model.t_mean)}", f"t_scale = {_vec(model.t_scale)}"]
    lines += ["", "[model]", f"task = {json.dumps(model.task)}"]
    if model.classes is not None:
        lines.append(f"classes = {_strings(model.classes)}")
    if model.feature_names is not None:
        lines.append(f"feature_names = {_strings(model.feature_names)}")
    return lines
