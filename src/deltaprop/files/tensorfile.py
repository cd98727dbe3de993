"""safetensors files, read as strangers' files are: the header is checked before any tensor is read.

A safetensors file is 8 bytes (little-endian u64 N), N bytes of UTF-8 JSON naming each tensor's dtype,
shape and byte range ``data_offsets = [begin, end)`` in the buffer that follows, and an optional
``__metadata__`` object of string → string. Nothing in it can run code (no pickle), but the header can lie:
a length beyond the file, ranges outside the buffer or overlapping, a shape whose bytes do not match its
range. :func:`read` refuses each of these with one line naming it *before* the ``safetensors`` library
reads the data (it checks most of them again), so memory stays bounded by the file's size.

deltaprop writes two kinds (the JSON in ``__metadata__["deltaprop"]`` says which):

- ``deltaprop-model``: the arrays of ``model.npz`` (W1, b1, …, x_mean, x_scale[, t_mean, t_scale]) under the
  same names and the same JSON metadata, so a model goes there and back bit for bit;
- ``deltaprop-torch``: the ``state_dict`` of an ``nn.Sequential`` (``0.mean``, ``1.weight``, …) and the list of
  its modules (see :mod:`deltaprop.interop.exchange`).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from ..errors import DeltapropError
from ..limits import META_BYTES, MODEL_FILE_BYTES
from . import safe as safefile

Array = np.ndarray
MAX_BYTES = MODEL_FILE_BYTES  # as for model.npz
MAX_HEADER = META_BYTES  # the JSON header holds the metadata and a line per tensor
DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "I32": np.int32}  # what a model can hold


def read(path: str | Path, what: str = "safetensors") -> tuple[dict[str, Array], dict[str, str]]:
    """(tensors by name, metadata) of a safetensors file, every header entry checked first."""
    path = safefile.regular_file(path, what, MAX_BYTES)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise DeltapropError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or 8 + n > size:
            raise DeltapropError(f"{path}: the header claims {n} bytes but the file has {size - 8} after the "
                                 f"length (limit {MAX_HEADER}): not a safetensors file, or a damaged one")
        raw = f.read(n)
    header = safefile.parse_json(raw, f"{path}: safetensors header")
    if not isinstance(header, dict):
        raise DeltapropError(f"{path}: the safetensors header must be a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise DeltapropError(f"{path}: __metadata__ must map strings to strings")
    buffer = size - 8 - n
    spans = []
    for name, entry in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise DeltapropError(f"{where}: a header entry needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise DeltapropError(f"{where}: dtype {dtype!r}; model files hold {', '.join(DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_BYTES for d in shape)):
            raise DeltapropError(f"{where}: shape must be a list of at most 8 sizes ≥ 0, got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= buffer):
            raise DeltapropError(f"{where}: data_offsets {offsets!r} lie outside the {buffer}-byte data buffer")
        nbytes = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise DeltapropError(f"{where}: shape {shape} of {dtype} is {nbytes} bytes, but its data_offsets "
                                 f"span {offsets[1] - offsets[0]}: the header lies")
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin != end:
            raise DeltapropError(f"{path}: tensor {name!r} starts at byte {begin} of the data, not {end}: "
                                 "tensors must tile the buffer without gaps or overlaps")
        end = stop
    if end != buffer:
        raise DeltapropError(f"{path}: the tensors cover {end} bytes but the data buffer has {buffer}")
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        tensors = load(path.read_bytes())
    except SafetensorError as e:
        raise DeltapropError(f"{path}: not a valid safetensors file ({e})") from None
    return tensors, meta


def meta_json(meta: dict[str, str], key: str, path) -> dict:
    """The JSON object stored as the string ``meta[key]``."""
    if key not in meta:
        raise DeltapropError(f"{path}: no deltaprop metadata (__metadata__[{key!r}]): not written by deltaprop, "
                             "or written without its model description")
    obj = safefile.parse_json(meta[key].encode("utf-8"), f"{path}: metadata {key!r}")
    if not isinstance(obj, dict):
        raise DeltapropError(f"{path}: metadata {key!r} must be a JSON object")
    return obj


def encode(tensors: dict[str, Array], meta: dict) -> bytes:
    """The bytes of a safetensors file: C-ordered copies of the arrays (values and dtypes kept exactly) and
    ``meta`` (a JSON-able dict) as ``__metadata__["deltaprop"]``."""
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    return save(arrays, metadata={"deltaprop": json.dumps(meta, allow_nan=False)})



# the modules of an nn.Sequential that a layered network can be: Linear layers, each followed by at most one
# activation, optionally a Standardize (x − mean)/scale first and, for regression, an Unstandardize a·scale + mean last
TORCH_ACTIVATIONS = {"Identity": "identity", "Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu",
                     "LeakyReLU": "leaky_relu", "Softplus": "softplus", "Square": "square", "Softmax": "softmax"}
TORCH_FORMAT = "deltaprop-torch"


def load_fields(path: str | Path) -> dict:
    """A model's fields (as :func:`deltaprop.files.modelfile.load` gives them) from a safetensors file of either
    kind (see the module text), every value checked as in ``model.npz``."""
    from . import modelfile

    tensors, meta = read(path, "model")
    if "deltaprop" not in meta:
        raise DeltapropError(f"{path}: no deltaprop metadata (__metadata__['deltaprop']); a state_dict saved "
                             "from PyTorch needs its module list: write it with deltaprop.interop.exchange.save_torch")
    info = meta_json(meta, "deltaprop", path)
    if info.get("format") == TORCH_FORMAT:
        arrays, info = model_arrays_from_torch(tensors, info, path)
        return modelfile.from_arrays(arrays, info, path)
    return modelfile.from_arrays(tensors, info, path)


def model_arrays_from_torch(tensors: dict[str, Array], meta: dict, path) -> tuple[dict[str, Array], dict]:
    """The arrays and metadata of a model file from an ``nn.Sequential``'s state_dict and its module list."""
    if meta.get("version") != 1:
        raise DeltapropError(f"{path}: {TORCH_FORMAT} version {meta.get('version')!r}; this deltaprop reads 1")
    modules = meta.get("modules")
    if not isinstance(modules, list) or not modules or not all(isinstance(m, str) for m in modules):
        raise DeltapropError(f"{path}: metadata 'modules' must list the Sequential's module names")
    arrays, used, acts, sizes = {}, set(), [], []

    def take(key: str) -> Array:
        if key not in tensors:
            raise DeltapropError(f"{path}: the state_dict has no tensor {key!r} for module {key.split('.')[0]}")
        used.add(key)
        return tensors[key]

    i = 0
    if modules[0] == "Standardize":
        arrays["x_mean"], arrays["x_scale"] = take("0.mean"), take("0.scale")
        i = 1
    t_scaling = None
    while i < len(modules):
        kind = modules[i]
        if kind == "Linear":
            W = take(f"{i}.weight")
            if W.ndim != 2:
                raise DeltapropError(f"{path}: {i}.weight must be a matrix (out, in), got shape {W.shape}")
            arrays[f"W{len(acts) + 1}"], arrays[f"b{len(acts) + 1}"] = W, take(f"{i}.bias")
            sizes += [W.shape[1], W.shape[0]] if not sizes else [W.shape[0]]
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            acts.append(TORCH_ACTIVATIONS.get(nxt, "identity"))
            i += 2 if nxt in TORCH_ACTIVATIONS else 1
        elif kind == "Unstandardize" and i == len(modules) - 1 and acts:
            t_scaling = take(f"{i}.mean"), take(f"{i}.scale")
            i += 1
        else:
            where = "first" if kind == "Standardize" else ("last" if kind == "Unstandardize" else None)
            raise DeltapropError(f"{path}: module {i} is {kind!r}" + (f", which may only come {where}" if where else
                                 f"; a layered network is Linear layers, each followed by one of "
                                 f"{', '.join(TORCH_ACTIVATIONS)}"))
    unused = sorted(set(tensors) - used)
    if unused:
        raise DeltapropError(f"{path}: tensor(s) {', '.join(unused)} belong to no module of the list")
    if not acts:
        raise DeltapropError(f"{path}: the module list has no Linear layer")
    dtype = arrays["W1"].dtype
    if "x_mean" not in arrays:
        arrays["x_mean"], arrays["x_scale"] = np.zeros(sizes[0], dtype), np.ones(sizes[0], dtype)
    task = meta.get("task") or ("classification" if acts[-1] == "softmax" else "regression")
    if task == "regression":
        arrays["t_mean"], arrays["t_scale"] = t_scaling or (np.zeros(sizes[-1], dtype), np.ones(sizes[-1], dtype))
    elif t_scaling is not None:
        raise DeltapropError(f"{path}: a classification model has no target scaling (Unstandardize)")
    loss = meta.get("loss") or ("cross_entropy" if task == "classification" else "quadratic")
    info = {"format": "deltaprop-model", "version": 1, "task": task,
            "network": {"sizes": sizes, "activations": acts, "loss": loss, "loss_params": meta.get("loss_params"),
                        "reduction": meta.get("reduction", "mean"), "dtype": np.dtype(dtype).name},
            "classes": meta.get("classes") if task == "regression" or meta.get("classes") is not None
            else [str(k) for k in range(sizes[-1])],
            "feature_names": meta.get("feature_names"), "target_names": meta.get("target_names"),
            "info": meta.get("info") or {}}
    return arrays, info
