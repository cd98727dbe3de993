"""Readers of data files from strangers: CSV/TSV with a header row and Parquet (through pyarrow), NPZ (``X``
with ``T`` or ``y``; read with allow_pickle=False) and MNIST-format IDX files, plain or gzip.

Every file goes through :mod:`deltaprop.files.safe` (plain files only, sizes from :mod:`deltaprop.limits`
checked before anything is allocated). Bad files raise :class:`DeltapropError` naming the file, row and column.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
import zlib
from pathlib import Path

import numpy as np

from .. import limits
from ..checks import first_nonfinite, number_in_text
from ..errors import DeltapropError
from ..files import safe as safefile
from ..limits import CSV_BYTES, DATA_FILE_BYTES, IDX_ELEMENTS
from .dataset import Dataset, targets_from_column

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


# --- tables: CSV, TSV, Parquet ---------------------------------------------------------------------------------
# A text table is parsed by pyarrow's CSV reader (the engine behind pandas' engine="pyarrow"), streamed in blocks
# straight into one float64 matrix, so the 56 MB MNIST-sized CSV takes one pass and about its float64 size in
# memory (benchmarks/csv_read.py). The checks that name a cell (row, column, value) run after parsing, on the
# arrays. Python's csv module is used only for the header and to find the row number of a malformed row.

DELIMITERS = (",", ";", "\t", "|")
HEAD_BYTES = 8 * 2**20  # the header row must end within this many bytes
BLOCK_BYTES = 2**19  # pyarrow's block: 512 KiB keeps the memory near the matrix's own size (benchmarks/csv_read.py)
NUMBER_KINDS = "biuf"


@dataclass
class Table:
    """The columns of a table file: feature columns as numbers (NaN where missing or literal) or text, and the
    target column. ``first_row`` is the file row of data row 0 (2 under a header row)."""

    source: str
    names: list[str]  # feature columns, in file order
    numeric: Array  # (N, number columns) float64
    numeric_names: list[str]
    missing: dict[str, Array]  # number columns with empty cells: (N,) bool
    text: dict[str, Array]  # text columns: (N,) object, None where empty
    target: Array | None  # (N,), float64 (NaN where empty) or object (None where empty)
    target_name: str | None
    first_row: int

    @property
    def n(self) -> int:
        return self.numeric.shape[0]

    def where(self, i: int, column: str) -> str:
        return f"{self.source}: row {i + self.first_row}, column {column!r}"


def _utf8_and_lines(path: Path) -> tuple[int, bytes]:
    """One pass over the file in 1 MiB chunks: it must be UTF-8 (a BOM is allowed); the number of line ends (an
    upper bound on the rows) and the head: the first 1 MiB, or up to HEAD_BYTES until the header row ends."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, offset = 0, 0
    with open(path, "rb") as f:
        head = f.read(2**20)
        while b"\n" not in head and len(head) < HEAD_BYTES and (more := f.read(2**20)):
            head += more
        f.seek(0)
        while chunk := f.read(2**20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = offset + e.start
                raise DeltapropError(f"{path}: not UTF-8 text (byte 0x{chunk[e.start]:02x} at offset {at}, "
                                     "perhaps Latin-1); save it as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
            lines += max(chunk.count(b"\n"), chunk.count(b"\r"))  # \r\n, \n, or old Mac's \r alone
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DeltapropError(f"{path}: not UTF-8 text (it ends inside a character)") from None
    return lines + 1, head


def detect_sep(lines: list[str]) -> str:
    """The delimiter among , ; tab | that splits the first lines into the same number (> 1) of cells, the most
    cells winning; "," when none does."""
    best, width = ",", 1
    for d in DELIMITERS:
        try:
            counts = {len(r) for r in csv.reader(lines, delimiter=d)}
        except csv.Error:  # a field beyond csv's limit: not this delimiter
            continue
        if len(counts) == 1 and (w := counts.pop()) > width:
            best, width = d, w
    return best


def read_header(path: str | Path, sep: str | None = None) -> tuple[list[str], str, int]:
    """(column names, delimiter, upper bound on the rows) of a CSV/TSV file, refusing an empty file, a file
    that is not UTF-8, repeated names and more than limits.MAX_COLUMNS columns."""
    path = safefile.regular_file(path, "CSV", CSV_BYTES)
    n_lines, head = _utf8_and_lines(path)
    text = head.decode("utf-8-sig", errors="ignore")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DeltapropError(f"{path}: empty file; expected a header row and data rows")
    if "\n" not in text.lstrip("\r\n") and len(head) >= HEAD_BYTES:
        raise DeltapropError(f"{path}: the header row is longer than {HEAD_BYTES} bytes")
    cut = len(head) < path.stat().st_size
    complete = lines[:-1] if cut and len(lines) > 1 else lines  # the last line of a cut head may be partial
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else detect_sep(complete[:20] or lines[:1])
    if len(sep) != 1:
        raise DeltapropError(f"--sep must be one character, got {sep!r}")
    n_cols = lines[0].count(sep) + 1  # quoted delimiters make this an upper bound
    if n_cols > limits.MAX_COLUMNS:
        raise DeltapropError(f"{path}: {n_cols} columns; the limit is deltaprop.limits.MAX_COLUMNS = "
                             f"{limits.MAX_COLUMNS} (raise it from Python if this many are meant)")
    try:
        header = [h.strip() for h in next(csv.reader([lines[0]], delimiter=sep))]
    except csv.Error as e:
        raise DeltapropError(f"{path}: cannot read the header row ({e})") from None
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DeltapropError(f"{path}: repeated column names in the header: {', '.join(map(repr, dup))}")
    if "" in header:
        raise DeltapropError(f"{path}: column {header.index('') + 1} of the header has no name")
    if len(complete) < 2 and len(lines) < 2:
        raise DeltapropError(f"{path}: a header row but no data rows")
    return header, sep, n_lines


def _bad_row(path: Path, sep: str, width: int) -> str:
    """The message for the first row whose cell count differs from the header's (the error path only)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = (r for r in csv.reader(f, delimiter=sep) if r and any(c.strip() for c in r))
        for i, r in enumerate(rows, start=1):
            if len(r) != width:
                return f"{path}: row {i} has {len(r)} cells but the header has {width} columns"
    return f"{path}: a row's cells do not match the header's {width} columns"


class _Columns:
    """Record batches → the numeric matrix (preallocated for ``n_max`` rows), text columns and the target."""

    def __init__(self, schema_names: list[str], target: str | None, n_max: int):
        self.names, self.target, self.n_max = schema_names, target, n_max
        self.rows = 0
        self.numeric_names: list[str] | None = None
        self.text_chunks: dict[str, list] = {}
        self.target_chunks: list = []
        self.missing: dict[str, list] = {}
        self.M: Array | None = None

    def add(self, batch, where: str) -> None:
        import pyarrow as pa
        import pyarrow.compute as pac

        n = batch.num_rows
        if self.M is None:  # the first batch fixes which columns are numbers
            kinds = {}
            for name, col in zip(batch.schema.names, batch.columns):
                t = col.type
                if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
                    kinds[name] = "text"
                elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
                    kinds[name] = "number"
                else:
                    raise DeltapropError(f"{where}: column {name!r} holds {t}; deltaprop reads numbers and text")
            self.numeric_names = [c for c in self.names if kinds[c] == "number" and c != self.target]
            self.text_names = [c for c in self.names if kinds[c] == "text" and c != self.target]
            position = {c: j for j, c in enumerate(batch.schema.names)}  # by index: a lookup by name is O(columns)
            self.numeric_at = [position[c] for c in self.numeric_names]
            self.text_at = [position[c] for c in self.text_names]
            self.target_at = position.get(self.target)
            self.M = np.empty((self.n_max, len(self.numeric_names)))
        if self.rows + n > self.M.shape[0]:  # a row count beyond the bound (Parquet metadata lied)
            raise DeltapropError(f"{where}: more rows than the file declares")
        sub = batch.select(self.numeric_at)
        for name, col in zip(self.numeric_names, sub.columns):
            if col.null_count:
                self.missing.setdefault(name, []).append((self.rows, np.asarray(col.is_null(), dtype=bool)))
        cast = [k for k, t in enumerate(sub.schema.types) if not (pa.types.is_integer(t) or pa.types.is_floating(t))]
        if cast:  # booleans, all-empty (null) columns: as float64
            cols = list(sub.columns)
            for k in cast:
                cols[k] = pac.cast(cols[k], pa.float64())
            sub = pa.RecordBatch.from_arrays(cols, names=self.numeric_names)
        if self.numeric_names:  # row-major into M (a column-major M measured 15 MiB more at its peak)
            self.M[self.rows:self.rows + n] = sub.to_tensor(null_to_nan=True, row_major=True).to_numpy()
        for name, j in zip(self.text_names, self.text_at):
            col = batch.column(j)
            self.text_chunks.setdefault(name, []).append(col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col)
        if self.target is not None:  # copied out: an arrow slice would keep its whole block alive
            col = batch.column(self.target_at)
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type) \
                    or pa.types.is_null(col.type):
                col = np.array(pac.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
            else:
                col = col.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
            self.target_chunks.append(col)
        self.rows += n

    def table(self, source: str, first_row: int) -> Table:
        import pyarrow as pa

        N = self.rows
        M = self.M[:N] if self.M is not None else np.empty((0, 0))
        if M.base is not None and M.shape[0] < self.M.shape[0] // 2:
            M = M.copy()  # free an over-allocation (quoted newlines), not the usual last few rows
        missing = {}
        for name, parts in self.missing.items():
            mask = np.zeros(N, bool)
            for at, m in parts:
                mask[at:at + m.shape[0]] = m
            missing[name] = mask
        text = {name: pa.chunked_array(ch).to_numpy(zero_copy_only=False).astype(object)
                for name, ch in self.text_chunks.items()}
        target = None
        if self.target is not None:  # numbers in one block and text in another: all text
            kinds = {c.dtype == object for c in self.target_chunks}
            chunks = [c.astype(object) if c.dtype != object and len(kinds) > 1 else c for c in self.target_chunks]
            if len(kinds) > 1:
                chunks = [np.array([None if (isinstance(v, float) and np.isnan(v)) else
                                    (f"{v:g}" if isinstance(v, float) else v) for v in c], dtype=object) for c in chunks]
            target = np.concatenate(chunks) if chunks else np.zeros(0)
        features = [c for c in self.names if c != self.target]
        return Table(source, features, M, self.numeric_names or [], missing, text, target, self.target, first_row)


def read_csv_table(path: str | Path, target: str | None | bool = None, *, sep: str | None = None,
                   text_columns=(), columns: list[str] | None = None) -> Table:
    """A CSV/TSV file with a header row as a :class:`Table`. ``target``: its column (None: the last; False:
    none, as for predict's inputs); ``text_columns`` are read as text whatever they hold (categories written as
    numbers); ``columns`` restricts the features read (others are skipped unread)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = Path(path)
    header, sep, n_lines = read_header(path, sep)
    if target is None:
        if len(header) < 2:
            hint = "" if len(header) > 1 else "; if the file uses another delimiter, give it with --sep"
            raise DeltapropError(f"{path}: the header has {len(header)} column ({header[0]!r}): needs at least one "
                                 f"input column and a target column{hint}")
        target = header[-1]
    target = target or None
    if target is not None and target not in header:
        raise DeltapropError(f"{path}: no column {target!r}; the columns are {', '.join(header)}")
    if columns is not None:
        absent = [c for c in columns if c not in header]
        if absent:
            raise DeltapropError(f"{path}: no column {', '.join(map(repr, absent))}; the columns are "
                                 f"{', '.join(header)}")
    include = [c for c in header if (columns is None or c in columns) or c == target]
    forced: dict[str, object] = {c: pa.string() for c in text_columns if c in include}
    bad: list = []

    def invalid(row):
        bad.append(row)
        return "skip"

    for _ in range(len(include) + 2):  # a later block holding what the first block's type cannot: retry wider
        bad.clear()
        reader = None
        try:
            reader = pcsv.open_csv(
                path, read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES, column_names=header, skip_rows=1,
                                              use_threads=True),
                parse_options=pcsv.ParseOptions(delimiter=sep, invalid_row_handler=invalid),
                convert_options=pcsv.ConvertOptions(null_values=[""], strings_can_be_null=True, include_columns=include,
                                                    column_types=forced, quoted_strings_can_be_null=True))
            cols = _Columns(include, target, n_lines)
            for batch in reader:
                cols.add(batch, str(path))
            break
        except pa.ArrowInvalid as e:
            import re

            m = re.search(r"column #(\d+)", str(e))
            if m is None or bad:
                if bad:
                    raise DeltapropError(_bad_row(path, sep, len(header))) from None
                if "Empty CSV" in str(e):
                    raise DeltapropError(f"{path}: a header row but no data rows") from None
                raise DeltapropError(f"{path}: not a valid CSV file ({e})") from None
            name = header[int(m.group(1))]
            forced[name] = pa.string() if name in forced else pa.float64()
        except pa.ArrowException as e:
            raise DeltapropError(f"{path}: not a valid CSV file ({e})") from None
        finally:
            if reader is not None:
                reader.close()
    if bad:
        raise DeltapropError(_bad_row(path, sep, len(header)))
    if cols.rows == 0:
        raise DeltapropError(f"{path}: a header row but no data rows")
    return cols.table(str(path), first_row=2)


def read_parquet_table(path: str | Path, target: str | None | bool = None, *, text_columns=(),
                       columns: list[str] | None = None) -> Table:
    """A Parquet file as a :class:`Table` (row 1 is the first data row), read in row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = safefile.regular_file(path, "Parquet", DATA_FILE_BYTES)
    try:
        f = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DeltapropError(f"{path}: not a Parquet file ({e})") from None
    header = f.schema_arrow.names
    if len(header) > limits.MAX_COLUMNS:
        raise DeltapropError(f"{path}: {len(header)} columns; the limit is deltaprop.limits.MAX_COLUMNS = "
                             f"{limits.MAX_COLUMNS}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DeltapropError(f"{path}: repeated column names: {', '.join(map(repr, dup))}")
    if target is None:
        if len(header) < 2:
            raise DeltapropError(f"{path}: needs at least one input column and a target column, found {header}")
        target = header[-1]
    target = target or None
    if target is not None and target not in header:
        raise DeltapropError(f"{path}: no column {target!r}; the columns are {', '.join(header)}")
    include = [c for c in header if columns is None or c in columns or c == target]
    n = f.metadata.num_rows
    if n == 0:
        raise DeltapropError(f"{path}: no data rows")
    if n * max(len(include), 1) > IDX_ELEMENTS:
        raise DeltapropError(f"{path}: {n} rows × {len(include)} columns is too large")
    cols = _Columns(include, target, n)
    try:
        for batch in f.iter_batches(batch_size=65536, columns=include):
            if text_columns:
                batch = pa.RecordBatch.from_arrays(
                    [c.cast(pa.string()) if name in text_columns else c for name, c in zip(batch.schema.names, batch.columns)],
                    names=batch.schema.names)
            cols.add(batch, str(path))
    except (pa.ArrowException, OSError) as e:
        raise DeltapropError(f"{path}: cannot read Parquet file ({e})") from None
    return cols.table(str(path), first_row=1)


def table_header(path: str | Path, sep: str | None = None) -> list[str]:
    """The column names of a CSV/TSV or Parquet file, read without its data."""
    if Path(path).suffix.lower() not in (".parquet", ".pq"):
        return read_header(path, sep)[0]
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = safefile.regular_file(path, "Parquet", DATA_FILE_BYTES)
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError) as e:
        raise DeltapropError(f"{path}: not a Parquet file ({e})") from None


def read_table(path: str | Path, target=None, *, sep: str | None = None, text_columns=(),
               columns: list[str] | None = None) -> Table:
    """A CSV/TSV or Parquet file as a :class:`Table`, by its suffix."""
    if Path(path).suffix.lower() in (".parquet", ".pq"):
        return read_parquet_table(path, target, text_columns=text_columns, columns=columns)
    return read_csv_table(path, target, sep=sep, text_columns=text_columns, columns=columns)


def table_frame(table: Table):
    """The feature columns of a table as a pandas DataFrame: numbers (NaN where empty) and text (None)."""
    import pandas as pd

    numeric = {n: table.numeric[:, j] for j, n in enumerate(table.numeric_names)}
    return pd.DataFrame({n: numeric[n] if n in numeric else table.text[n] for n in table.names})


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
