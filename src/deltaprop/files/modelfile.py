"""Model files: a trained network and its preprocessing as plain arrays plus JSON, safe to open from strangers.

``model.npz`` holds plain numeric arrays (W1, b1, …, x_mean, x_scale[, t_mean, t_scale]) and one uint8 array
``meta``, UTF-8 JSON with the architecture and the preprocessing. It is read with ``np.load(allow_pickle=False)``
(through :mod:`deltaprop.files.safe`) and every value is checked before a network is built; nothing is
unpickled or evaluated. Files are written atomically (:func:`deltaprop.files.safe.save_npz`), so a kill leaves
the old file or the new one, never half of one.

This module knows the file, not the model: :func:`save` takes the model's fields and :func:`load` gives them
back as keywords; :class:`deltaprop.training.model.Model` is built from them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .. import checks, limits
from ..engine import activations as act_mod
from ..engine import losses as loss_mod
from ..engine.layered import Network
from ..errors import DeltapropError
from . import safe as safefile

Array = np.ndarray
FORMAT = "deltaprop-model"
VERSION = 1
TASKS = ("classification", "regression")


# --- writing ---------------------------------------------------------------------------------------------------


def json_bytes(obj) -> Array:
    """JSON as a uint8 array, the one way metadata goes into an .npz without pickle."""
    return np.frombuffer(json.dumps(obj, allow_nan=False).encode("utf-8"), dtype=np.uint8).copy()


def network_meta(net: Network) -> dict:
    return {"sizes": net.sizes, "activations": [g.name for g in net.activations], "loss": net.loss.name,
            "loss_params": net.loss.params, "reduction": net.reduction, "dtype": net.dtype.name}


def network_arrays(net: Network, prefix: str = "") -> dict[str, Array]:
    return {f"{prefix}{name}": p for name, p in zip(net.param_names(), net.params())}


def save(path: str | Path, net: Network, task: str, x_mean: Array, x_scale: Array, t_mean: Array | None = None,
         t_scale: Array | None = None, classes: list[str] | None = None, feature_names: list[str] | None = None,
         target_names: list[str] | None = None, info: dict | None = None, features: dict | None = None,
         owner: str | None = None) -> None:
    """Write a model file atomically: the network's W, b, the input (and for regression target) scaling, meta
    (with ``features``, the plain-data feature encoding of :mod:`deltaprop.data.features`, when there is one).
    ``owner`` names the temporary file (a run's id)."""
    meta = {"format": FORMAT, "version": VERSION, "network": network_meta(net), "task": task,
            "classes": classes, "feature_names": feature_names, "target_names": target_names, "info": info or {}}
    if features is not None:
        meta["features"] = features
    arrays = network_arrays(net)
    arrays.update(x_mean=x_mean, x_scale=x_scale, meta=json_bytes(meta))
    if task == "regression":
        arrays.update(t_mean=t_mean, t_scale=t_scale)
    safefile.save_npz(path, arrays, owner)


# --- reading, with every value checked ------------------------------------------------------------------------


def model_member(name: str) -> bool:
    """The arrays a model file holds: W1, b1, …, the scalings and the metadata."""
    return re.fullmatch(r"[Wb][1-9][0-9]*|[xt]_(mean|scale)|meta", name) is not None


def read_npz(path: str | Path, what: str = "model") -> dict[str, Array]:
    """All arrays of an .npz, refusing pickles, non-numeric arrays, duplicate members, members a model file
    does not hold and absurd sizes before reading them."""
    return safefile.read_npz(path, what, limits.MODEL_FILE_BYTES, manifest=model_member)


def read_meta(arrays: dict[str, Array], path) -> dict:
    m = arrays.get("meta")
    if m is None or m.dtype != np.uint8 or m.ndim != 1:
        raise DeltapropError(f"{path}: no metadata (a 1-D uint8 array 'meta' holding JSON)")
    if m.size > limits.META_BYTES:
        raise DeltapropError(f"{path}: metadata is {m.size} bytes; the limit is {limits.META_BYTES}")
    meta = safefile.parse_json(m.tobytes(), f"{path}: metadata")
    if not isinstance(meta, dict):
        raise DeltapropError(f"{path}: metadata must be a JSON object")
    return meta


def _is_finite_number(v) -> bool:
    try:
        checks.finite_number(v, "value")
    except DeltapropError:
        return False
    return True


def stored_array(arrays: dict[str, Array], key: str, shape: tuple, path) -> Array:
    """The float array ``key`` of ``shape``, all finite, as stored (its dtype kept), or an error naming it."""
    arr = arrays.get(key)
    if arr is None:
        raise DeltapropError(f"{path}: missing array {key}")
    if arr.dtype.kind != "f" or arr.shape != shape:
        raise DeltapropError(f"{path}: {key} must be a float array of shape {shape}, got {arr.dtype} {arr.shape}")
    checks.finite_array(arr, shape, f"{path}: {key}")
    limits.value_range(arr, f"{path}: {key}")
    return arr


def network_from(meta: dict, arrays: dict[str, Array], path, prefix: str = "") -> Network:
    """Build a network from checked metadata and arrays W1, b1, … (with ``prefix``).

    What only a file can get wrong is checked here (sizes within :mod:`deltaprop.limits`, activation and loss
    names from the registries only — a formula would go through the safe parser, never eval —, the arrays'
    shapes); the rest is the engine's: :class:`Network` checks what it is given.
    """
    if not isinstance(meta, dict):
        raise DeltapropError(f"{path}: metadata 'network' must be an object")
    sizes = limits.network_sizes(meta.get("sizes"), str(path))
    L = len(sizes) - 1
    acts = meta.get("activations")
    if not isinstance(acts, list) or len(acts) != L or not all(isinstance(a, str) for a in acts):
        raise DeltapropError(f"{path}: 'activations' must list {L} names, got {acts!r}")
    for a in acts:
        if a not in act_mod.ACTIVATIONS:
            raise DeltapropError(f"{path}: unknown activation {a!r}; known: {', '.join(act_mod.ACTIVATIONS)}")
    loss = meta.get("loss")
    if not isinstance(loss, str) or loss not in loss_mod.LOSSES:
        raise DeltapropError(f"{path}: unknown loss {loss!r}; known: {', '.join(loss_mod.LOSSES)}")
    loss_params = meta.get("loss_params") or {}
    if not isinstance(loss_params, dict) or not all(_is_finite_number(v) for v in loss_params.values()):
        raise DeltapropError(f"{path}: loss_params must map names to finite numbers, got {loss_params!r}")
    dtype = meta.get("dtype", "float64")
    reduction = meta.get("reduction", "mean")
    Ws = [stored_array(arrays, f"{prefix}W{l + 1}", (sizes[l + 1], sizes[l]), path) for l in range(L)]
    bs = [stored_array(arrays, f"{prefix}b{l + 1}", (sizes[l + 1],), path) for l in range(L)]
    try:
        net = Network(sizes, acts, loss, reduction=checks.reduction(reduction), W=Ws, b=bs,
                      dtype=checks.as_dtype(dtype), loss_params=loss_params)
    except DeltapropError as e:
        raise DeltapropError(f"{path}: {e}") from None
    # Network() converts through float64; copy the stored arrays in bit for bit
    for p, src in zip(net.params(), [x for pair in zip(Ws, bs) for x in pair]):
        p[...] = src
    return net


def _names(value, n: int | None, what: str, path) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (n is not None and len(value) != n):
        raise DeltapropError(f"{path}: {what} must be a list of {n if n is not None else ''} strings, got "
                             f"{str(value)[:200]}")
    if len(set(value)) != len(value):  # predict picks columns by name: a repeated name would read one column twice
        dup = next(v for v in value if value.count(v) > 1)
        raise DeltapropError(f"{path}: {what} names {dup!r} more than once")
    return value


def _positive_scale(arrays, key: str, n: int, path) -> Array:
    scale = stored_array(arrays, key, (n,), path)
    if np.any(scale <= 0):
        raise DeltapropError(f"{path}: {key} must be > 0")
    limits.value_range(scale, f"{path}: {key}", low=limits.MODEL_SCALE_MIN)
    return scale


def load(path: str | Path) -> dict:
    """Read and check a model file written by :func:`save` (``.npz``), or a safetensors model file (see
    :mod:`deltaprop.files.tensorfile`); the fields as the keywords :func:`save` takes."""
    if isinstance(path, (str, Path)) and str(path).endswith(".safetensors"):  # anything else: read_npz says what
        from . import tensorfile

        return tensorfile.load_fields(path)
    arrays = read_npz(path)
    return from_arrays(arrays, read_meta(arrays, path), path)


def from_arrays(arrays: dict[str, Array], meta: dict, path) -> dict:
    """A model's fields from a file's arrays and its metadata, every value checked (``path`` names it)."""
    if meta.get("format") != FORMAT:
        raise DeltapropError(f"{path}: not a deltaprop model (format {meta.get('format')!r})")
    if type(meta.get("version")) is not int or meta.get("version") != VERSION:  # True == 1 is not a version
        raise DeltapropError(f"{path}: model format version {meta.get('version')!r}; this deltaprop reads {VERSION}")
    net = network_from(meta.get("network"), arrays, path)
    n_in, n_out = net.sizes[0], net.sizes[-1]
    task = meta.get("task")
    if task not in TASKS:
        raise DeltapropError(f"{path}: task must be 'classification' or 'regression', got {task!r}")
    fields = {"net": net, "task": task, "x_mean": stored_array(arrays, "x_mean", (n_in,), path),
              "x_scale": _positive_scale(arrays, "x_scale", n_in, path), "t_mean": None, "t_scale": None}
    if task == "regression":
        fields["t_mean"] = stored_array(arrays, "t_mean", (n_out,), path)
        fields["t_scale"] = _positive_scale(arrays, "t_scale", n_out, path)
    classes = _names(meta.get("classes"), n_out if task == "classification" else None, "classes", path)
    if task == "classification" and classes is None:
        raise DeltapropError(f"{path}: a classification model needs its class names")
    fields.update(classes=classes, feature_names=_names(meta.get("feature_names"), n_in, "feature_names", path),
                  target_names=_names(meta.get("target_names"), None, "target_names", path),
                  info=_info(meta.get("info") or {}, path))
    if meta.get("features") is not None:  # checked by deltaprop.data.features.Features.from_dict
        fields["features"] = meta["features"]
    return fields


# what `evaluate --split` reads back from a model's info to re-make its split: checked like any other input
INFO_TYPES = {"data": str, "target": str, "seed": int, "noise": float, "val_split": float, "test_split": float,
              "epochs_planned": int, "fingerprint": str, "n_rows": int, "sep": str, "impute": str}


def _info(info, path) -> dict:
    if not isinstance(info, dict):
        raise DeltapropError(f"{path}: info must be an object")
    for key, kind in INFO_TYPES.items():
        v = info.get(key)
        if v is None:
            continue
        ok = (isinstance(v, str) if kind is str else
              isinstance(v, int) and not isinstance(v, bool) and v >= 0 if kind is int else _is_finite_number(v))
        if not ok:
            raise DeltapropError(f"{path}: info {key!r} must be {'a string' if kind is str else 'a number'}, "
                                 f"got {v!r}")
    return info
