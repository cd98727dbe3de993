"""Tables from strangers: CSV/TSV with a header row (the delimiter detected or given) and Parquet, read by
pyarrow into a :class:`Table` of number and text columns. The checks that turn a table into a data set, naming
a cell, are in :mod:`.readers`.

Every file goes through :mod:`deltaprop.files.safe` (plain files only, sizes from :mod:`deltaprop.limits`
checked before anything is allocated). Bad files raise :class:`DeltapropError` naming the file, row and column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import DeltapropError
from ..files import safe as safefile
from ..limits import CSV_BYTES, DATA_FILE_BYTES, IDX_ELEMENTS

Array = np.ndarray


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
