"""Trained models and the files that hold them, safe to open from strangers.

A :class:`Model` is a :class:`~deltaprop.layered.Network` plus what was learnt from the training split
besides the weights: the input standardization (x − mean)/scale, for regression the target standardization,
and the class names. ``model.npz`` holds plain numeric arrays (W1, b1, …, x_mean, x_scale[, t_mean, t_scale])
and one uint8 array ``meta``, UTF-8 JSON with the architecture and the preprocessing. It is read with
``np.load(allow_pickle=False)`` and every value is checked before a network is built; nothing is unpickled
or evaluated.

:func:`save_npz` writes any such file atomically (a temporary file in the same directory, flushed, fsynced,
then ``os.replace``), so a kill leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine import activations as act_mod
from ..engine import losses as loss_mod
from . import safe as safefile
from ..errors import DeltapropError
from ..checks import DTYPES
from ..engine.layered import Network

Array = np.ndarray
FORMAT = "deltaprop-model"
VERSION = 1
MAX_BYTES = 2**30  # uncompressed size a model or checkpoint file may declare
MAX_META = 2**24  # bytes of JSON metadata
MAX_WIDTH = 1_000_000  # units in one layer
MAX_LAYERS = 1000


@dataclass
class Model:
    """A trained network with its preprocessing. ``X`` is always in the user's units, (N, n_in)."""

    net: Network
    task: str  # "classification" or "regression"
    x_mean: Array  # (n_in,)
    x_scale: Array  # (n_in,), > 0
    t_mean: Array | None = None  # (n_out,), regression only: targets are standardized for training too
    t_scale: Array | None = None
    classes: list[str] | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    info: dict = field(default_factory=dict)

    def inputs(self, X) -> Array:
        """Standardized inputs (N, n_in) in the network's dtype."""
        from ..data.dataset import real_matrix

        X = real_matrix(X, "inputs X", columns=self.net.sizes[0])
        return ((X - self.x_mean) / self.x_scale).astype(self.net.dtype)

    def targets(self, T) -> Array:
        """Targets (N, n_out) as the network was trained on them (standardized for regression)."""
        T = np.asarray(T, dtype=np.float64)
        T = T[:, None] if T.ndim == 1 else T
        if self.task == "regression":
            T = (T - self.t_mean) / self.t_scale
        return T.astype(self.net.dtype)

    def output(self, X) -> Array:
        """The output layer's activations aᴸ (N, n_out), in the user's units for regression."""
        a = self.net.predict(self.inputs(X)).astype(np.float64)
        return a * self.t_scale + self.t_mean if self.task == "regression" else a

    def predict(self, X) -> Array:
        """Class indices (N,) for classification (names in ``classes``), values (N, n_out) for regression."""
        a = self.output(X)
        return np.argmax(a, axis=1) if self.task == "classification" else a

    def predict_proba(self, X) -> Array:
        """Class probabilities (N, K): the softmax (or sigmoid) outputs."""
        if self.task != "classification":
            raise DeltapropError("class probabilities need a classification model")
        return self.output(X)

    def save(self, path: str | Path) -> None:
        save(self, path)


# --- writing ---------------------------------------------------------------------------------------------------


def json_bytes(obj) -> Array:
    """JSON as a uint8 array, the one way metadata goes into an .npz without pickle."""
    return np.frombuffer(json.dumps(obj, allow_nan=False).encode("utf-8"), dtype=np.uint8).copy()


def _write_atomic(path: str | Path, write, mode: str) -> None:
    """``write(f)`` into a temporary file beside ``path``, flushed and fsynced, then renamed over it: a kill at
    any moment leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def save_npz(path: str | Path, arrays: dict[str, Array]) -> None:
    """Write an .npz atomically."""
    _write_atomic(path, lambda f: np.savez(f, **arrays), "wb")


def write_text_atomic(path: str | Path, text: str) -> None:
    _write_atomic(path, lambda f: f.write(text), "w")


def fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory entry (not possible on every platform)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def network_meta(net: Network) -> dict:
    return {"sizes": net.sizes, "activations": [g.name for g in net.activations], "loss": net.loss.name,
            "loss_params": net.loss.params, "reduction": net.reduction, "dtype": net.dtype.name}


def network_arrays(net: Network, prefix: str = "") -> dict[str, Array]:
    return {f"{prefix}{name}": p for name, p in zip(net.param_names(), net.params())}


def save(model: Model, path: str | Path) -> None:
    meta = {"format": FORMAT, "version": VERSION, "network": network_meta(model.net), "task": model.task,
            "classes": model.classes, "feature_names": model.feature_names, "target_names": model.target_names,
            "info": model.info}
    arrays = network_arrays(model.net)
    arrays.update(x_mean=model.x_mean, x_scale=model.x_scale, meta=json_bytes(meta))
    if model.task == "regression":
        arrays.update(t_mean=model.t_mean, t_scale=model.t_scale)
    save_npz(path, arrays)


# --- reading, with every value checked ------------------------------------------------------------------------


def read_npz(path: str | Path, what: str = "model") -> dict[str, Array]:
    """All arrays of an .npz, refusing pickles, non-numeric arrays and absurd sizes before reading them."""
    return safefile.read_npz(path, what, MAX_BYTES)


def read_meta(arrays: dict[str, Array], path) -> dict:
    m = arrays.get("meta")
    if m is None or m.dtype != np.uint8 or m.ndim != 1:
        raise DeltapropError(f"{path}: no metadata (a 1-D uint8 array 'meta' holding JSON)")
    if m.size > MAX_META:
        raise DeltapropError(f"{path}: metadata is {m.size} bytes; the limit is {MAX_META}")
    meta = safefile.parse_json(m.tobytes(), f"{path}: metadata")
    if not isinstance(meta, dict):
        raise DeltapropError(f"{path}: metadata must be a JSON object")
    return meta


def _finite_number(v) -> bool:
    # JSON integers may have 4300 digits: math.isfinite would overflow on them, float() says so clearly
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _finite(arr: Array, shape: tuple, what: str, path) -> Array:
    if arr is None:
        raise DeltapropError(f"{path}: missing array {what}")
    if arr.dtype.kind != "f" or arr.shape != shape:
        raise DeltapropError(f"{path}: {what} must be a float array of shape {shape}, got {arr.dtype} {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DeltapropError(f"{path}: {what} contains NaN or Inf")
    return arr


def network_from(meta: dict, arrays: dict[str, Array], path, prefix: str = "") -> Network:
    """Build a network from checked metadata and arrays W1, b1, … (with ``prefix``)."""
    if not isinstance(meta, dict):
        raise DeltapropError(f"{path}: metadata 'network' must be an object")
    sizes = meta.get("sizes")
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in sizes)):
        raise DeltapropError(f"{path}: network sizes must be a list of 2 to {MAX_LAYERS + 1} integers in "
                             f"[1, {MAX_WIDTH}], got {sizes!r}")
    L = len(sizes) - 1
    acts = meta.get("activations")
    if not isinstance(acts, list) or len(acts) != L or not all(isinstance(a, str) for a in acts):
        raise DeltapropError(f"{path}: 'activations' must list {L} names, got {acts!r}")
    for a in acts:  # names from the registry only; formulas would go through the safe parser, never eval
        if a not in act_mod.ACTIVATIONS:
            raise DeltapropError(f"{path}: unknown activation {a!r}; known: {', '.join(act_mod.ACTIVATIONS)}")
    loss = meta.get("loss")
    if not isinstance(loss, str) or loss not in loss_mod.LOSSES:
        raise DeltapropError(f"{path}: unknown loss {loss!r}; known: {', '.join(loss_mod.LOSSES)}")
    loss_params = meta.get("loss_params") or {}
    if not isinstance(loss_params, dict) or not all(_finite_number(v) for v in loss_params.values()):
        raise DeltapropError(f"{path}: loss_params must map names to finite numbers, got {loss_params!r}")
    dtype = meta.get("dtype", "float64")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise DeltapropError(f"{path}: dtype must be float64 or float32, got {dtype!r}")
    Ws, bs = [], []
    for l in range(L):
        Ws.append(_finite(arrays.get(f"{prefix}W{l + 1}"), (sizes[l + 1], sizes[l]), f"{prefix}W{l + 1}", path))
        bs.append(_finite(arrays.get(f"{prefix}b{l + 1}"), (sizes[l + 1],), f"{prefix}b{l + 1}", path))
    reduction = meta.get("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise DeltapropError(f"{path}: reduction must be 'mean' or 'sum', got {reduction!r}")
    try:
        net = Network(sizes, acts, loss, reduction=reduction, W=Ws, b=bs, dtype=dtype,
                      loss_params=loss_params)
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
        raise DeltapropError(f"{path}: {what} must be a list of {n if n is not None else ''} strings, got {value!r}")
    return value


def load(path: str | Path) -> Model:
    """Read and check a model file written by :func:`save` (``.npz``), or a safetensors model file."""
    if Path(path).suffix == ".safetensors":  # (the exporters' files, see deltaprop.files.tensorfile)
        from . import tensorfile

        return tensorfile.load_model(path)
    arrays = read_npz(path)
    return from_arrays(arrays, read_meta(arrays, path), path)


def from_arrays(arrays: dict[str, Array], meta: dict, path) -> Model:
    """A model from a file's arrays and its metadata, every value checked (``path`` names it in errors)."""
    if meta.get("format") != FORMAT:
        raise DeltapropError(f"{path}: not a deltaprop model (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise DeltapropError(f"{path}: model format version {meta.get('version')!r}; this deltaprop reads {VERSION}")
    net = network_from(meta.get("network"), arrays, path)
    n_in, n_out = net.sizes[0], net.sizes[-1]
    task = meta.get("task")
    if task not in ("classification", "regression"):
        raise DeltapropError(f"{path}: task must be 'classification' or 'regression', got {task!r}")
    x_mean = _finite(arrays.get("x_mean"), (n_in,), "x_mean", path)
    x_scale = _finite(arrays.get("x_scale"), (n_in,), "x_scale", path)
    if np.any(x_scale <= 0):
        raise DeltapropError(f"{path}: x_scale must be > 0")
    t_mean = t_scale = None
    if task == "regression":
        t_mean = _finite(arrays.get("t_mean"), (n_out,), "t_mean", path)
        t_scale = _finite(arrays.get("t_scale"), (n_out,), "t_scale", path)
        if np.any(t_scale <= 0):
            raise DeltapropError(f"{path}: t_scale must be > 0")
    classes = _names(meta.get("classes"), n_out if task == "classification" else None, "classes", path)
    if task == "classification" and classes is None:
        raise DeltapropError(f"{path}: a classification model needs its class names")
    info = _info(meta.get("info") or {}, path)
    return Model(net, task, x_mean, x_scale, t_mean, t_scale, classes,
                 _names(meta.get("feature_names"), n_in, "feature_names", path),
                 _names(meta.get("target_names"), None, "target_names", path), info)


# what `evaluate --split` reads back from a model's info to re-make its split: checked like any other input
INFO_TYPES = {"data": str, "target": str, "seed": int, "noise": float, "val_split": float, "test_split": float,
              "epochs_planned": int}


def _info(info, path) -> dict:
    if not isinstance(info, dict):
        raise DeltapropError(f"{path}: info must be an object")
    for key, kind in INFO_TYPES.items():
        v = info.get(key)
        if v is None:
            continue
        ok = (isinstance(v, str) if kind is str else
              isinstance(v, int) and not isinstance(v, bool) and v >= 0 if kind is int else _finite_number(v))
        if not ok:
            raise DeltapropError(f"{path}: info {key!r} must be {'a string' if kind is str else 'a number'}, "
                                 f"got {v!r}")
    return info
