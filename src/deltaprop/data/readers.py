"""Readers of data files from strangers: CSV with a header row, NPZ (``X`` with ``T`` or ``y``; read with
allow_pickle=False) and MNIST-format IDX files, plain or gzip.

Every file goes through :mod:`deltaprop.files.safe` (plain files only, sizes from :mod:`deltaprop.limits`
checked before anything is allocated). Bad files raise :class:`DeltapropError` naming the file, row and column.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np

from ..checks import first_nonfinite, number_in_text
from ..errors import DeltapropError
from ..files import safe as safefile
from ..limits import CSV_BYTES, DATA_FILE_BYTES, IDX_ELEMENTS
from .dataset import Dataset, is_number, targets_from_column

Array = np.ndarray


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file; object arrays (which would need pickle) are refused."""
    return safefile.read_npz(path, "data", DATA_FILE_BYTES, numeric=False)  # y may hold class names


def load_xt(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """X (N, n0) and T (N, nL) from an .npz holding arrays X and T."""
    arrays = load_npz(path)
    for key in ("X", "T"):
        if key not in arrays:
            raise DeltapropError(f"{path}: missing array {key!r} (found {sorted(arrays)})")
    X, T = arrays["X"], arrays["T"]
    if X.ndim == 1:
        X = X[:, None]
    if T.ndim == 1:
        T = T[:, None]
    if X.ndim != 2 or T.ndim != 2 or X.shape[0] != T.shape[0]:
        raise DeltapropError(f"{path}: X must be (N, n0) and T (N, nL) with the same N; got {X.shape} and {T.shape}")
    for key, arr in (("X", X), ("T", T)):
        _check_real(arr, f"{path}: {key}")
    return X.astype(np.float64), T.astype(np.float64)


def _check_real(arr: Array, where: str) -> None:
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise DeltapropError(f"{where} must hold real numbers, not {arr.dtype}")
    if arr.size == 0:
        raise DeltapropError(f"{where} is empty")
    bad = first_nonfinite(arr)
    if bad is not None:
        raise DeltapropError(f"{where} contains NaN or Inf (at index {bad})")


def npz_dataset(path: str | Path, task: str | None = None) -> Dataset:
    """An .npz with X and either T (targets, one-hot rows for classes) or y (one label or value per row)."""
    arrays = load_npz(path)
    if "X" not in arrays or not ("T" in arrays or "y" in arrays):
        raise DeltapropError(f"{path}: needs an array X and an array T or y (found {sorted(arrays)})")
    X = arrays["X"]
    X = X[:, None] if X.ndim == 1 else X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    _check_real(X, f"{path}: X")
    if "T" in arrays:
        X, T = load_xt(path)
        is_one_hot = T.shape[1] > 1 and np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1)
        if task is None:
            task = "classification" if is_one_hot else "regression"
        if task == "classification" and not is_one_hot:
            raise DeltapropError(f"{path}: for classification T must hold one-hot rows (or give labels as y)")
        classes = [str(k) for k in range(T.shape[1])] if task == "classification" else None
        return Dataset(Path(path).stem, X, T, task, classes=classes, info={"source": f"{path}: T", "first_row": 1})
    y = arrays["y"]
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DeltapropError(f"{path}: y must be (N,) with N = {X.shape[0]} as in X, got {y.shape}")
    T, task, classes = targets_from_column(y, f"{path}: y", task)
    return Dataset(Path(path).stem, X.astype(np.float64), T, task, classes=classes,
                   info={"source": f"{path}: y", "first_row": 1})


def csv_dataset(path: str | Path, target: str | None = None, task: str | None = None) -> Dataset:
    """A CSV file with a header row; ``target`` names the target column (default: the last one)."""
    path = Path(path)
    rows = read_csv_rows(path)
    if not rows:
        raise DeltapropError(f"{path}: empty file; expected a header row and data rows")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DeltapropError(f"{path}: repeated column names in the header {header}")
    body = rows[1:]
    if not body:
        raise DeltapropError(f"{path}: a header row but no data rows")
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DeltapropError(f"{path}: row {i} has {len(r)} cells but the header has {len(header)} columns")
    if len(header) < 2:
        raise DeltapropError(f"{path}: needs at least one input column and a target column, found {header}")
    target = header[-1] if target is None else target
    if target not in header:
        raise DeltapropError(f"{path}: no column {target!r}; the columns are {', '.join(header)}")
    j_t = header.index(target)
    features = [h for j, h in enumerate(header) if j != j_t]
    X = np.empty((len(body), len(features)))
    for i, r in enumerate(body):
        cells = [c for j, c in enumerate(r) if j != j_t]
        for j, c in enumerate(cells):
            X[i, j] = number_cell(c, path, i + 2, features[j])
    y_text = np.array([r[j_t].strip() for r in body])
    if all(is_number(v) for v in y_text):
        y = np.array([number_cell(v, path, i + 2, target) for i, v in enumerate(y_text)])
    else:
        y = y_text
        if task == "regression":
            i = next(i for i, v in enumerate(y_text) if not is_number(v))
            raise DeltapropError(f"{path}: row {i + 2}, column {target!r}: {str(y_text[i])!r} is not a number")
        if any(v == "" for v in y_text):
            i = int(np.argmax(y_text == ""))
            raise DeltapropError(f"{path}: row {i + 2}, column {target!r}: empty label")
    T, task, classes = targets_from_column(y, f"{path}: column {target!r}", task)
    return Dataset(path.stem, X, T, task, classes=classes, feature_names=features, target_names=[target],
                   info={"source": str(path), "first_row": 2})  # row 1 is the header


def read_csv_rows(path: str | Path) -> list[list[str]]:
    """The non-blank rows of a CSV file (blank lines carry nothing), size-limited, as lists of strings."""
    text = safefile.read_text(path, "CSV", CSV_BYTES)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise DeltapropError(f"{path}: not a valid CSV file ({e})") from None
    return [r for r in rows if r and any(c.strip() for c in r)]


def number_cell(text: str, path, row: int, column: str) -> float:
    """The number in one CSV cell, or an error naming the file, row and column."""
    return number_in_text(text, f"{path}: row {row}, column {column!r}")


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | Path) -> Array:
    """An IDX array (MNIST's format: 0, 0, type, ndim, then ndim big-endian uint32 sizes, then the data)."""
    path = safefile.regular_file(path, "IDX", DATA_FILE_BYTES)
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        f = gzip.open(path, "rb") if gz else open(path, "rb")
    except FileNotFoundError:
        raise DeltapropError(f"{path}: no such file") from None
    try:
        with f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES or head[3] == 0:
                raise DeltapropError(f"{path}: not an IDX file (bad magic number {head.hex() or 'none'}; "
                                     "expected 00 00, a type code 08/09/0b/0c/0d/0e and a dimension count)")
            ndim = head[3]
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DeltapropError(f"{path}: truncated IDX header ({ndim} dimensions announced)")
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, ">u4"))
            dtype = np.dtype(IDX_TYPES[head[2]])
            count = math.prod(shape)
            if math.prod(max(d, 1) for d in shape) > IDX_ELEMENTS:  # (0, 2³², 2³²) is empty yet unshapeable
                raise DeltapropError(f"{path}: IDX shape {shape} is too large ({count} numbers)")
            data = f.read(count * dtype.itemsize + 1)  # one byte more, to tell trailing bytes
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DeltapropError(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < count * dtype.itemsize:
        raise DeltapropError(f"{path}: truncated IDX data: shape {shape} needs {count * dtype.itemsize} bytes, "
                             f"found {len(data)}")
    if len(data) > count * dtype.itemsize:
        raise DeltapropError(f"{path}: IDX file is longer than its shape {shape} says")
    arr = np.frombuffer(data, dtype).reshape(shape)
    if first_nonfinite(arr) is not None:
        raise DeltapropError(f"{path}: IDX data contain NaN or Inf")
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr.astype(np.int64)


def _labels_sibling(path: Path) -> Path | None:
    name = path.name.replace("images-idx3", "labels-idx1").replace("images", "labels")
    return path.with_name(name) if name != path.name else None


def idx_dataset(path: str | Path, target: str | None = None, task: str | None = None) -> Dataset:
    """Images (N, …) from one IDX file and labels (N,) from another: ``target``, or the MNIST sibling
    (train-images-idx3-ubyte → train-labels-idx1-ubyte)."""
    path = Path(path)
    labels_path = Path(target) if target else _labels_sibling(path)
    if labels_path is None or not labels_path.exists():
        raise DeltapropError(f"{path}: no labels file; give it with --target LABELS_FILE"
                             + (f" (looked for {labels_path})" if labels_path else ""))
    images, y = load_idx(path), load_idx(labels_path)
    if images.ndim < 1 or y.ndim != 1:
        raise DeltapropError(f"{labels_path}: labels must be a 1-D IDX array, got shape {y.shape}")
    if images.shape[0] != y.shape[0]:
        raise DeltapropError(f"{path} holds {images.shape[0]} samples but {labels_path} {y.shape[0]} labels")
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    T, task, classes = targets_from_column(y, str(labels_path), task)
    return Dataset(path.name.split(".")[0], X, T, task, classes=classes,
                   info={"source": str(labels_path), "first_row": 1})


def read(path: Path, target: str | None = None, task: str | None = None) -> Dataset:
    """A data set from a file, by its suffix: .csv, .npz, or IDX (.idx, .ubyte, .gz, or "idx" in the name)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".csv"]:
        return csv_dataset(path, target, task)
    if suffixes[-1:] == [".npz"]:
        return npz_dataset(path, task)
    if "idx" in path.name.lower() or suffixes[-1:] in ([".idx"], [".gz"], [".ubyte"]):
        return idx_dataset(path, target, task)
    raise DeltapropError(f"{path}: unknown file type; use .csv (with a header row), .npz, or IDX files")
