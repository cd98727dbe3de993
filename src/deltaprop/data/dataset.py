"""Data sets: built-in, synthetic and user files, as (X, T) with rows as samples.

Every loader returns a :class:`Dataset`: X (N, n_in) and T (N, n_out) in float64. For classification T holds
one-hot rows (seed 003: "t has K − 1 zeros and a single one at position k") and ``classes`` names the columns;
for regression T holds the targets themselves.

- built-in: ``digits``, ``iris``, ``wine``, ``breast_cancer``, ``diabetes``, read from the files that
  scikit-learn ships (no network, and without importing scikit-learn, which is slow to load);
- synthetic, all seeded: Bishop's figure 5.3 sets ``square``, ``sine``, ``abs``, ``step`` (50 points,
  x ~ U[−1, 1]) and the TensorFlow Playground's ``circle``, ``xor``, ``gauss``, ``spiral``;
- user files: CSV with a header row, NPZ (``X`` with ``T`` or ``y``; read with allow_pickle=False), and
  MNIST-format IDX files, plain or gzip.

Bad files raise :class:`DeltapropError` naming the file, row and column. Splitting and standardization live
here too; the statistics come from the training split only, and the model keeps them.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import safe as safefile
from ..errors import DeltapropError
from ..engine.losses import ALIASES

Array = np.ndarray
MAX_CLASSES_AUTO = 20  # an integer-valued target with at most this many values is taken as class labels
MAX_ELEMENTS = 2**27  # numbers an IDX file may declare, checked before anything is allocated: 1 GiB as float64,
# ~3× MNIST's 47 million
MAX_FILE_BYTES = 2**30  # a data file (.npz, IDX, gzip compressed or not)
MAX_CSV_BYTES = 2**28  # CSV cells become Python strings first (~10× their bytes); MNIST as CSV is 110 MB


@dataclass
class Dataset:
    """X (N, n_in) and T (N, n_out); ``test`` is a held-out (X, T) that the source defines itself, if any."""

    name: str
    X: Array
    T: Array
    task: str  # "classification" (T one-hot) or "regression"
    classes: list[str] | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    test: tuple[Array, Array] | None = None
    info: dict = field(default_factory=dict)

    @property
    def labels(self) -> Array:
        """Class indices (N,), for classification."""
        return np.argmax(self.T, axis=1)


# --- checks where data enter ---------------------------------------------------------------------------------


def real_matrix(X, where: str, columns: int | None = None, first_row: int = 1) -> Array:
    """X as a finite float64 (N, n) array, or a DeltapropError naming the row and column that is not."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:  # strings, ragged rows, objects
        raise DeltapropError(f"{where} must be a rectangular array of numbers ({e})") from None
    if X.ndim == 1:
        X = X[:, None] if columns in (None, 1) else X[None, :]
    if X.ndim != 2:
        raise DeltapropError(f"{where} must be 2-D (samples × columns), got shape {X.shape}")
    if X.shape[0] == 0:
        raise DeltapropError(f"{where} has no rows")
    if columns is not None and X.shape[1] != columns:
        raise DeltapropError(f"{where} has {X.shape[1]} columns; expected {columns}")
    if not np.all(np.isfinite(X)):
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise DeltapropError(f"{where}: row {i + first_row}, column {j + 1} is {X[i, j]} (NaN and Inf are not data)")
    return X


def check_targets(T: Array, loss: str, where: str, first_row: int = 1) -> None:
    """Refuse targets where the loss is undefined, naming the first bad row: cross-entropy needs rows of
    probabilities (≥ 0, summing to 1), binary cross-entropy t in [0, 1], Itakura–Saito t > 0."""
    T = np.asarray(T, dtype=np.float64)
    loss = ALIASES.get(loss, loss) if isinstance(loss, str) else loss
    if loss == "cross_entropy":
        bad = np.any(T < 0, axis=1) | (np.abs(T.sum(axis=1) - 1) > CE_SUM_TOL)
        need = "a row of probabilities (each ≥ 0, summing to 1) for cross-entropy"
    elif loss == "binary_cross_entropy":
        bad = np.any((T < 0) | (T > 1), axis=1)
        need = "targets in [0, 1] for binary cross-entropy"
    elif loss == "itakura_saito":
        bad = np.any(T <= 0, axis=1)
        need = "targets > 0 for Itakura–Saito (log t/a is undefined otherwise)"
    else:
        return
    if np.any(bad):
        i = int(np.argmax(bad))
        raise DeltapropError(f"{where}: row {i + first_row} has targets {T[i].tolist()}; the loss needs {need}")


CE_SUM_TOL = 1e-6  # a CSV of probabilities printed with 7 digits still sums to 1 within this


def check_dataset(ds: Dataset) -> None:
    """The arrays of a Dataset made in code (files are checked as they are read): shapes agree, finite, not empty."""
    where = ds.info.get("source", ds.name)
    ds.X = real_matrix(ds.X, f"{where}: X")
    ds.T = real_matrix(ds.T, f"{where}: T")
    if ds.X.shape[0] != ds.T.shape[0]:
        raise DeltapropError(f"{where}: X has {ds.X.shape[0]} rows but T has {ds.T.shape[0]}")
    if ds.task not in ("classification", "regression"):
        raise DeltapropError(f"{where}: task must be 'classification' or 'regression', got {ds.task!r}")
    if ds.task == "classification" and (ds.classes is None or len(ds.classes) != ds.T.shape[1]):
        raise DeltapropError(f"{where}: classification needs one class name per column of T")


# --- one-hot targets -------------------------------------------------------------------------------------------


def one_hot(labels: Array, K: int | None = None) -> Array:
    """(N,) class indices → (N, K) rows with a single one."""
    labels = np.asarray(labels, dtype=np.int64)
    K = int(labels.max()) + 1 if K is None else K
    T = np.zeros((labels.shape[0], K))
    T[np.arange(labels.shape[0]), labels] = 1.0
    return T


def _is_integral(y: Array) -> bool:
    return np.issubdtype(y.dtype, np.integer) or bool(np.all(np.mod(y, 1) == 0))


def targets_from_column(y: Array, where: str, task: str | None = None):
    """(T, task, classes) from one target column: strings or few integers are labels, other numbers values."""
    y = np.asarray(y)
    if y.size == 0:
        raise DeltapropError(f"{where}: no data rows")
    numeric = np.issubdtype(y.dtype, np.number)
    if task is None:
        small = numeric and _is_integral(y) and len(np.unique(y)) <= MAX_CLASSES_AUTO
        task = "classification" if (not numeric or small) else "regression"
    if task == "regression":
        if not numeric:
            bad = next(v for v in y if not _is_number(v))
            raise DeltapropError(f"{where}: regression needs numeric targets, found {str(bad)!r}")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise DeltapropError(f"{where}: targets contain NaN or Inf (row {int(np.argmin(np.isfinite(y))) + 1})")
        return y[:, None], task, None
    if task != "classification":
        raise DeltapropError(f"task must be 'classification' or 'regression', got {task!r}")
    if numeric and not np.all(np.isfinite(y)):
        raise DeltapropError(f"{where}: class labels contain NaN or Inf")
    if numeric and not _is_integral(y):
        raise DeltapropError(f"{where}: class labels must be integers or names, found {y[np.mod(y, 1) != 0][0].item()!r}")
    if numeric and np.any(np.abs(y) > 2**53):  # beyond this, integer labels are not exact as floats
        raise DeltapropError(f"{where}: class label {y[np.abs(y) > 2**53][0].item()!r} is too large")
    values, labels = np.unique(y.astype(np.int64) if numeric else y, return_inverse=True)
    if len(values) < 2:
        raise DeltapropError(f"{where}: only one class ({values[0].item()!r}); classification needs at least two")
    return one_hot(labels, len(values)), task, [str(v) for v in values]


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


# --- built-in sets: the files scikit-learn ships -----------------------------------------------------------


def _sklearn_data_dir() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DeltapropError("the built-in data sets are read from scikit-learn's files: pip install scikit-learn")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


def _sklearn_csv(filename: str) -> tuple[Array, Array, list[str]]:
    """The 'n_samples,n_features,class names…' header format of iris.csv, wine_data.csv, breast_cancer.csv."""
    path = _sklearn_data_dir() / filename
    with open(path, encoding="utf-8") as f:
        header = next(csv.reader(f))
        n, _ = int(header[0]), int(header[1])
        arr = np.loadtxt(f, delimiter=",", ndmin=2)
    if arr.shape[0] != n:
        raise DeltapropError(f"{path}: expected {n} rows, found {arr.shape[0]}")
    return arr[:, :-1], arr[:, -1].astype(np.int64), header[2:]


def _builtin(name: str) -> Dataset:
    root = _sklearn_data_dir()
    if name == "digits":  # 8×8 images of handwritten digits, 0–16 grey levels; the last column is the digit
        arr = np.loadtxt(root / "digits.csv.gz", delimiter=",", ndmin=2)
        X, y, classes = arr[:, :-1], arr[:, -1].astype(np.int64), [str(k) for k in range(10)]
    elif name == "diabetes":  # the raw (unscaled) features; we standardize them ourselves
        X = np.loadtxt(root / "diabetes_data_raw.csv.gz", ndmin=2)
        t = np.loadtxt(root / "diabetes_target.csv.gz")
        return Dataset(name, X, t[:, None], "regression", target_names=["progression"])
    else:
        X, y, classes = _sklearn_csv({"iris": "iris.csv", "wine": "wine_data.csv",
                                      "breast_cancer": "breast_cancer.csv"}[name])
    return Dataset(name, X, one_hot(y, len(classes)), "classification", classes=list(classes))


BUILTIN = ("digits", "iris", "wine", "breast_cancer", "diabetes")


# --- synthetic sets ----------------------------------------------------------------------------------------


BISHOP: dict[str, callable] = {  # the four functions of Bishop's figure 5.3 (seed 003)
    "square": lambda x: x**2,
    "sine": lambda x: np.sin(np.pi * x),
    "abs": np.abs,
    "step": lambda x: np.heaviside(x, 1.0),  # H(0) = 1; x = 0 has probability zero anyway
}
BISHOP_N = 50
BISHOP_TEST_N = 200  # a fresh draw from the same distribution, to report a test error on


def bishop(name: str, seed: int = 0, n: int = BISHOP_N, noise: float = 0.0) -> Dataset:
    """n points x ~ U[−1, 1], t = f(x) (+ N(0, noise²) if asked), and a test set of 200 fresh points."""
    if name not in BISHOP:
        raise DeltapropError(f"unknown Bishop set {name!r}; choose from {', '.join(BISHOP)}")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    parts = []
    for rng, m in ((train_rng, n), (test_rng, BISHOP_TEST_N)):
        x = rng.uniform(-1.0, 1.0, m)
        t = BISHOP[name](x) + (noise * rng.standard_normal(m) if noise else 0.0)
        parts.append((x[:, None], t[:, None]))
    (X, T), test = parts
    return Dataset(name, X, T, "regression", feature_names=["x"], target_names=["t"], test=test,
                   info={"seed": seed, "noise": noise})


PLAYGROUND = ("circle", "xor", "gauss", "spiral")
PLAYGROUND_N = 500  # the Playground's number of points


def playground(name: str, seed: int = 0, n: int = PLAYGROUND_N, noise: float = 0.0) -> Dataset:
    """The TensorFlow Playground's 2-D classification sets, as its dataset.ts draws them (coordinates in
    [−6, 6], ``noise`` in [0, 0.5] as its 0–50 % slider); class 1 is the Playground's +1 (blue)."""
    if not 0 <= noise <= 0.5:
        raise DeltapropError(f"noise must be in [0, 0.5] (the Playground's 0–50 %), got {noise}")
    rng = np.random.default_rng(seed)
    u = rng.uniform
    if name == "circle":  # inside radius 2.5 is +1; the outer ring 3.5–5 is −1; noise shifts points, not labels
        half = n // 2
        r = np.concatenate([u(0, 2.5, half), u(3.5, 5.0, n - half)])
        angle = u(0, 2 * np.pi, n)
        X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
        shifted = X + u(-5, 5, (n, 2)) * noise
        y = (np.hypot(shifted[:, 0], shifted[:, 1]) < 2.5).astype(int)
    elif name == "xor":  # quadrants, kept 0.3 away from the axes; the label is the sign of x·y
        X = u(-5, 5, (n, 2))
        X += np.where(X > 0, 0.3, -0.3)
        shifted = X + u(-5, 5, (n, 2)) * noise
        y = (shifted[:, 0] * shifted[:, 1] >= 0).astype(int)
    elif name == "gauss":  # two Gaussians at (2, 2) (+1) and (−2, −2) (−1); noise widens them
        variance = 0.5 + (4 - 0.5) * noise / 0.5
        half = n // 2
        y = np.concatenate([np.ones(half, int), np.zeros(n - half, int)])
        centres = np.where(y[:, None] == 1, 2.0, -2.0)
        X = centres + rng.standard_normal((n, 2)) * np.sqrt(variance)
    elif name == "spiral":  # two interleaved arms of radius up to 5, 1.75 turns each
        half = n // 2
        parts, ys = [], []
        for m, dt, label in ((half, 0.0, 1), (n - half, np.pi, 0)):
            i = np.arange(m) / m
            r, t = 5 * i, 1.75 * i * 2 * np.pi + dt
            parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]) + u(-1, 1, (m, 2)) * noise)
            ys.append(np.full(m, label))
        X, y = np.vstack(parts), np.concatenate(ys)
    else:
        raise DeltapropError(f"unknown Playground set {name!r}; choose from {', '.join(PLAYGROUND)}")
    return Dataset(name, X, one_hot(y, 2), "classification", classes=["-1", "+1"], feature_names=["x1", "x2"],
                   info={"seed": seed, "noise": noise})


# --- user files ----------------------------------------------------------------------------------------------


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file; object arrays (which would need pickle) are refused."""
    return safefile.read_npz(path, "data", MAX_FILE_BYTES, numeric=False)  # y may hold class names


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
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise DeltapropError(f"{where} contains NaN or Inf (at index {tuple(int(i) for i in bad)})")


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
            X[i, j] = _cell(c, path, i + 2, features[j])
    y_text = np.array([r[j_t].strip() for r in body])
    if all(_is_number(v) for v in y_text):
        y = np.array([_cell(v, path, i + 2, target) for i, v in enumerate(y_text)])
    else:
        y = y_text
        if task == "regression":
            i = next(i for i, v in enumerate(y_text) if not _is_number(v))
            raise DeltapropError(f"{path}: row {i + 2}, column {target!r}: {str(y_text[i])!r} is not a number")
        if any(v == "" for v in y_text):
            i = int(np.argmax(y_text == ""))
            raise DeltapropError(f"{path}: row {i + 2}, column {target!r}: empty label")
    T, task, classes = targets_from_column(y, f"{path}: column {target!r}", task)
    return Dataset(path.stem, X, T, task, classes=classes, feature_names=features, target_names=[target],
                   info={"source": str(path), "first_row": 2})  # row 1 is the header


def read_csv_rows(path: str | Path) -> list[list[str]]:
    """The non-blank rows of a CSV file (blank lines carry nothing), size-limited, as lists of strings."""
    text = safefile.read_text(path, "CSV", MAX_CSV_BYTES)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise DeltapropError(f"{path}: not a valid CSV file ({e})") from None
    return [r for r in rows if r and any(c.strip() for c in r)]


def _cell(text: str, path, row: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DeltapropError(f"{path}: row {row}, column {column!r}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise DeltapropError(f"{path}: row {row}, column {column!r}: {text.strip()!r} (NaN and Inf are not data)")
    return v


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | Path) -> Array:
    """An IDX array (MNIST's format: 0, 0, type, ndim, then ndim big-endian uint32 sizes, then the data)."""
    path = safefile.regular_file(path, "IDX", MAX_FILE_BYTES)
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
            if math.prod(max(d, 1) for d in shape) > MAX_ELEMENTS:  # (0, 2³², 2³²) is empty yet unshapeable
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
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
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


def load(spec: str | Path, *, target: str | None = None, task: str | None = None, seed: int = 0,
         noise: float = 0.0) -> Dataset:
    """A data set by name (built-in or synthetic, seeded) or from a file (.csv, .npz, IDX)."""
    key = str(spec)
    if key in BUILTIN:
        ds = _builtin(key)
    elif key in BISHOP:
        ds = bishop(key, seed=seed, noise=noise)
    elif key in PLAYGROUND:
        ds = playground(key, seed=seed, noise=noise)
    else:
        path = Path(key)
        if not path.exists():
            names = ", ".join(BUILTIN + tuple(BISHOP) + PLAYGROUND)
            raise DeltapropError(f"{key}: no such file, and not a data set name ({names})")
        suffixes = [s.lower() for s in path.suffixes]
        if suffixes[-1:] == [".csv"]:
            ds = csv_dataset(path, target, task)
        elif suffixes[-1:] == [".npz"]:
            ds = npz_dataset(path, task)
        elif "idx" in path.name.lower() or suffixes[-1:] in ([".idx"], [".gz"], [".ubyte"]):
            ds = idx_dataset(path, target, task)
        else:
            raise DeltapropError(f"{path}: unknown file type; use .csv (with a header row), .npz, or IDX files")
        return ds
    if task is not None and task != ds.task:
        raise DeltapropError(f"{key} is a {ds.task} data set; --task {task} does not apply")
    return ds


def align(ds: Dataset, model, where: str | None = None) -> Array:
    """The data set's targets in the model's output order (class names matched, not column positions)."""
    where = where or ds.name
    if ds.task != model.task:
        raise DeltapropError(f"{where}: a {ds.task} data set, but the model does {model.task}")
    if ds.X.shape[1] != model.net.sizes[0]:
        raise DeltapropError(f"{where}: {ds.X.shape[1]} input columns, but the model takes {model.net.sizes[0]}")
    if model.task == "regression":
        if ds.T.shape[1] != model.net.sizes[-1]:
            raise DeltapropError(f"{where}: {ds.T.shape[1]} targets, but the model gives {model.net.sizes[-1]}")
        return ds.T
    index = {c: k for k, c in enumerate(model.classes)}
    unknown = [c for c in ds.classes if c not in index]
    if unknown:
        raise DeltapropError(f"{where}: labels {unknown} are not classes of the model ({', '.join(model.classes)})")
    labels = np.array([index[ds.classes[k]] for k in ds.labels])
    return one_hot(labels, len(model.classes))


# --- splits and standardization -----------------------------------------------------------------------------


def split(n: int, val: float, test: float, rng: np.random.Generator) -> tuple[Array, Array, Array]:
    """Index arrays (train, val, test) of a seeded random permutation of range(n)."""
    for what, frac in (("validation", val), ("test", test)):
        if not 0 <= frac < 1:
            raise DeltapropError(f"{what} split must be a fraction in [0, 1), got {frac}")
    perm = rng.permutation(n)
    n_test = int(round(test * n))
    n_val = int(round(val * n))
    if n - n_test - n_val < 1:
        raise DeltapropError(f"splits leave no training data ({n} samples, val {val}, test {test})")
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def standardizer(X: Array) -> tuple[Array, Array]:
    """(mean, scale) per column of the training inputs; a constant column gets scale 1 (it becomes 0)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale
