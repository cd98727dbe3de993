"""Readers of data files from strangers: CSV/TSV with a header row and Parquet (read by :mod:`.tables`; here
the checks that turn a table into a data set, naming a cell), NPZ (``X`` with ``T`` or ``y``; read with
allow_pickle=False) and MNIST-format IDX files, plain or gzip; :func:`read` picks by the file's suffix.

Every file goes through :mod:`deltaprop.files.safe` (plain files only, sizes from :mod:`deltaprop.limits`
checked before anything is allocated). Bad files raise :class:`DeltapropError` naming the file, row and column.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from .. import limits
from ..checks import first_nonfinite, number_in_text
from ..errors import DeltapropError
from ..files import safe as safefile
from ..limits import CSV_BYTES, DATA_FILE_BYTES
from .dataset import Dataset, targets_from_column
from .tables import (BLOCK_BYTES, DELIMITERS, HEAD_BYTES, NUMBER_KINDS, Table, detect_sep,  # noqa: F401
                     read_csv_table, read_header, read_parquet_table, read_table, table_frame, table_header)

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
    for key, arr in (("X", X), ("T", T)):
        _not_a_number(arr, f"{path}: {key}")
    check_data_memory(X.size + T.size, str(path))
    if X.ndim == 1:
        X = X[:, None]
    if T.ndim == 1:
        T = T[:, None]
    if X.ndim != 2 or T.ndim != 2 or X.shape[0] != T.shape[0]:
        raise DeltapropError(f"{path}: X must be (N, n0) and T (N, nL) with the same N; got {X.shape} and {T.shape}")
    for key, arr in (("X", X), ("T", T)):
        _check_real(arr, f"{path}: {key}")
    return X.astype(np.float64), T.astype(np.float64)


def _not_a_number(arr: Array, where: str) -> None:
    if arr.ndim == 0:
        raise DeltapropError(f"{where} is a single number (a 0-d array); it must hold one row per sample")


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
    _not_a_number(X, f"{path}: X")
    check_data_memory(X.size + sum(arrays[k].size for k in ("T", "y") if k in arrays), str(path))
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


# --- from a table to a data set: the checks that name a cell ------------------------------------------------------


def _numbers_in(values: Array) -> Array:
    """Which cells of a text column (None where empty) hold a number (as float() reads one)."""
    import pandas as pd

    s = pd.Series(values, dtype=object)
    coerced = pd.to_numeric(s.str.strip(), errors="coerce")
    return (coerced.notna() | s.str.strip().str.lower().isin(["nan", "+nan", "-nan"])).to_numpy(bool)


def _check_numbers(table: Table, M: Array, names: list[str]) -> None:
    """No literal NaN or Inf in number columns (empty cells are the imputer's business)."""
    step = max(1, 2**20 // max(M.shape[1], 1))  # rows at a time: no N × n temporary beside the matrix
    if all(np.isfinite(M[a:a + step]).all() for a in range(0, M.shape[0], step)):
        return
    first = None
    for j in np.flatnonzero(~np.isfinite(M).all(axis=0)):
        bad = ~np.isfinite(M[:, j])
        if names[j] in table.missing:
            bad &= ~table.missing[names[j]]
        if bad.any():
            i = int(np.argmax(bad))
            if first is None or (i, j) < first:
                first = (i, j)
    if first is not None:
        i, j = first
        raise DeltapropError(f"{table.where(i, names[j])}: {str(float(M[i, j]))!r} (NaN and Inf are not data)")


def features_from_table(table: Table, categorical=(), impute: str = "none", unseen: str = "error"):
    """(X, feature names, frame, spec) from the feature columns: numbers as they are; a column of text that
    is not all numbers is categorical (or a mixed column, an error naming the first cell that is not a
    number); ``categorical`` names more. Without categorical columns or missing values, frame and spec are
    None and X is the table's matrix itself (no copy)."""
    from . import features as feat

    impute = feat.check_impute(impute)
    categorical = list(categorical or ())
    unknown = [c for c in categorical if c not in table.names]
    if unknown:
        raise DeltapropError(f"{table.source}: --categorical {', '.join(unknown)}: no such input column; the "
                             f"inputs are {', '.join(table.names)}")
    numeric = {n: table.numeric[:, j] for j, n in enumerate(table.numeric_names)}
    cats: dict[str, Array] = {}
    for name, values in table.text.items():
        nums = _numbers_in(values)
        present = np.array([v is not None for v in values])
        if name in categorical or not nums[present].any():
            cats[name] = values
        elif nums[present].all():
            numeric[name] = np.array([float(v) if v is not None else np.nan for v in values])
            if not present.all():
                table.missing[name] = ~present
        else:
            i = int(np.argmax(present & ~nums))
            raise DeltapropError(f"{table.where(i, name)}: {str(values[i]).strip()!r} is not a number (the column "
                                 f"mixes numbers and text; --categorical {name} reads it as categories)")
    for name in categorical:
        if name in numeric:  # categories written as numbers in a Parquet file, say
            col = numeric.pop(name)
            cats[name] = np.array([None if np.isnan(v) else (f"{v:g}") for v in col], dtype=object)
    num_names = [n for n in table.names if n in numeric]
    if num_names == table.numeric_names:
        M = table.numeric
    else:
        M = np.column_stack([numeric[n] for n in num_names]) if num_names else np.empty((table.n, 0))
    _check_numbers(table, M, num_names)
    missing_cols = [n for n in table.names if (n in table.missing and table.missing[n].any())
                    or (n in cats and any(v is None for v in cats[n]))]
    for n in missing_cols:  # every cell empty: nothing to learn from or to impute with
        empty = table.missing[n] if n in table.missing else np.array([v is None for v in cats[n]])
        if empty.all():
            raise DeltapropError(f"{table.source}: column {n!r} is empty in every row; remove it")
    if missing_cols and impute == "none":
        first = None
        for n in missing_cols:
            empty = table.missing[n] if n in table.missing else np.array([v is None for v in cats[n]])
            i = int(np.argmax(empty))
            if first is None or i < first[0]:
                first = (i, n)
        i, n = first
        raise DeltapropError(f"{table.where(i, n)}: '' is not a number (an empty cell; --impute mean, median "
                             "or most_frequent fills missing values from the training rows)")
    if not cats and not missing_cols and impute == "none":
        return M, num_names, None, None  # plain numbers: the matrix as parsed, no encoding to keep
    import pandas as pd

    frame = pd.DataFrame({n: (numeric[n] if n in numeric else cats[n]) for n in table.names})
    for n in missing_cols:
        share = float(frame[n].isna().mean())
        if share > 0.5:
            import warnings

            from ..errors import DeltapropWarning

            warnings.warn(f"{table.source}: column {n!r} is {100 * share:.0f} % missing; its values are mostly "
                          f"imputed ({impute})", DeltapropWarning, stacklevel=2)
    spec = feat.Spec(columns=list(table.names), categorical=[n for n in table.names if n in cats],
                     impute=impute, unseen=unseen)
    fitted = feat.fit(frame, spec, where=table.source)
    return feat.transform(fitted, frame, where=table.source), fitted.output_names(), frame, spec


def dataset_from_table(table: Table, task: str | None = None, *, categorical=(), impute: str = "none",
                       unseen: str = "error", name: str | None = None) -> Dataset:
    """A :class:`Dataset` from a table with a target column: the feature checks (:func:`features_from_table`),
    then the targets (labels or values, :func:`~.dataset.targets_from_column`)."""
    where, target = table.source, table.target_name
    if not table.names:
        raise DeltapropError(f"{where}: needs at least one input column besides the target {target!r}")
    y = table.target
    empty = np.array([v is None for v in y]) if y.dtype == object else np.isnan(y)
    if y.dtype != object and empty.any():  # NaN from an empty cell, not a literal 'nan': parsing keeps them apart
        i = int(np.argmax(empty))
        raise DeltapropError(f"{table.where(i, target)}: empty target cell (a row without a target teaches "
                             "nothing; remove it)")
    if y.dtype == object:
        if empty.any():
            i = int(np.argmax(empty))
            raise DeltapropError(f"{table.where(i, target)}: empty label")
        y = np.array([v.strip() for v in y], dtype=object)
        nums = _numbers_in(y)
        if nums.all():
            y = np.array([float(v) for v in y])
        elif task == "regression":
            i = int(np.argmax(~nums))
            raise DeltapropError(f"{table.where(i, target)}: {str(y[i])!r} is not a number")
        else:
            y = y.astype(str)
    X, feature_names, frame, spec = features_from_table(table, categorical, impute, unseen)
    T, task, classes = targets_from_column(y, f"{where}: column {target!r}", task)
    return Dataset(name or Path(where).stem, X, T, task, classes=classes, feature_names=feature_names,
                   target_names=[target], info={"source": where, "first_row": table.first_row},
                   frame=frame, features=spec)


def csv_dataset(path: str | Path, target: str | None = None, task: str | None = None, *, sep: str | None = None,
                categorical=(), impute: str = "none", unseen: str = "error") -> Dataset:
    """A CSV (or TSV) file with a header row; ``target`` names the target column (default: the last one);
    the delimiter is detected unless ``sep`` is given."""
    table = read_csv_table(path, target, sep=sep, text_columns=categorical)
    return dataset_from_table(table, task, categorical=categorical, impute=impute, unseen=unseen)


def parquet_dataset(path: str | Path, target: str | None = None, task: str | None = None, *, categorical=(),
                    impute: str = "none", unseen: str = "error") -> Dataset:
    """A Parquet file; ``target`` names the target column (default: the last one)."""
    table = read_parquet_table(path, target, text_columns=categorical)
    return dataset_from_table(table, task, categorical=categorical, impute=impute, unseen=unseen)


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


# Training holds a data set about 3 times (the file's float64 array, the float64 splits kept for the metrics and
# plots, the standardized splits in the network's dtype), plus the chunks it standardizes and evaluates: measured
# 1.35 GB peak (ru_maxrss, the interpreter included) for 60 000 × 784 IDX images (376 MB as float64), so 4.
DATA_COPIES = 4


def check_data_memory(n_numbers: int, where: str) -> None:
    """Refuse a data set of ``n_numbers`` numbers whose training copies would exceed the memory budget."""
    limits.check_memory(8 * DATA_COPIES * n_numbers, where, f"the memory {n_numbers:,} numbers need as float64 "
                        f"× {DATA_COPIES} (the data, its splits and their standardized copies)")


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | Path, as_float: bool = False, copies: int = 1) -> Array:
    """An IDX array (MNIST's format: 0, 0, type, ndim, then ndim big-endian uint32 sizes, then the data), as
    float64 (float types, or ``as_float``) or int64.

    The header's shape is checked against the ``idx_elements`` budget and its size as 8-byte numbers (times
    ``copies``, the arrays the caller will make of it) against ``memory`` before anything is read; the data are
    then streamed, gzip or not, in 1 MiB chunks straight into the result, so a 127 KB gzip file declaring 2²⁷
    pixels costs nothing before it is refused, and one within the budgets never holds more than the result.
    """
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
            # (0, 2³², 2³²) holds no number yet cannot be shaped: count every dimension as at least 1
            limits.check("idx_elements", math.prod(max(d, 1) for d in shape), str(path),
                         f"the numbers the IDX shape {shape} declares")
            limits.check_memory(8 * count * copies, str(path),
                                f"the memory the IDX data of shape {shape} need as 8-byte numbers"
                                + (f" × {copies} (the data, its splits and their standardized copies)" if copies > 1 else ""))
            out = np.empty(count, np.float64 if dtype.kind == "f" or as_float else np.int64)
            chunk = max(1, 2**20 // dtype.itemsize)
            for i in range(0, count, chunk):
                k = min(chunk, count - i)
                buf = f.read(k * dtype.itemsize)
                if len(buf) < k * dtype.itemsize:
                    raise DeltapropError(f"{path}: truncated IDX data: shape {shape} needs {count * dtype.itemsize} "
                                         f"bytes, found {i * dtype.itemsize + len(buf)}")
                with np.errstate(invalid="ignore"):  # a signalling NaN; refused below
                    out[i:i + k] = np.frombuffer(buf, dtype)
            if f.read(1):
                raise DeltapropError(f"{path}: IDX file is longer than its shape {shape} says")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DeltapropError(f"{path}: cannot read IDX file ({e})") from None
    if first_nonfinite(out) is not None:
        raise DeltapropError(f"{path}: IDX data contain NaN or Inf")
    return out.reshape(shape)


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
    images, y = load_idx(path, as_float=True, copies=DATA_COPIES), load_idx(labels_path)
    if images.ndim < 1 or y.ndim != 1:
        raise DeltapropError(f"{labels_path}: labels must be a 1-D IDX array, got shape {y.shape}")
    if images.shape[0] != y.shape[0]:
        raise DeltapropError(f"{path} holds {images.shape[0]} samples but {labels_path} {y.shape[0]} labels")
    X = images.reshape(images.shape[0], -1).astype(np.float64, copy=False)  # load_idx made it float64 already
    T, task, classes = targets_from_column(y, str(labels_path), task)
    return Dataset(path.name.split(".")[0], X, T, task, classes=classes,
                   info={"source": str(labels_path), "first_row": 1})


TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq")


def read(path: Path, target: str | None = None, task: str | None = None, **table_options) -> Dataset:
    """A data set from a file, by its suffix: .csv/.tsv/.txt, .parquet, .npz, or IDX (.idx, .ubyte, .gz, or
    "idx" in the name). ``table_options`` (sep, categorical, impute, unseen) apply to tables."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] in ([".parquet"], [".pq"]):
        table_options.pop("sep", None)
        return parquet_dataset(path, target, task, **table_options)
    if suffixes[-1:] and suffixes[-1] in TABLE_SUFFIXES:
        return csv_dataset(path, target, task, **table_options)
    if suffixes[-1:] == [".npz"]:
        return npz_dataset(path, task)
    if "idx" in path.name.lower() or suffixes[-1:] in ([".idx"], [".gz"], [".ubyte"]):
        return idx_dataset(path, target, task)
    raise DeltapropError(f"{path}: unknown file type; use .csv or .tsv (with a header row), .parquet, .npz, "
                         "or IDX files")
