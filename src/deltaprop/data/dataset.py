"""The data set as the network sees it: X (N, n_in) and T (N, n_out), rows as samples, in float64.

For classification T holds one-hot rows (seed 003: "t has K − 1 zeros and a single one at position k") and
``classes`` names the columns; for regression T holds the targets themselves. Here too: the checks where
arrays enter (:func:`real_matrix`, :func:`check_dataset`), targets from one column (:func:`targets_from_column`),
matching a data set's classes to a model's (:func:`align`), the seeded split and the standardization, whose
statistics come from the training split only (the model keeps them).

Built-in and synthetic sets are in :mod:`.builtin`, readers of files in :mod:`.readers`; :func:`deltaprop.data.load`
finds either by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import limits
from ..checks import first_nonfinite
from ..errors import DeltapropError

Array = np.ndarray
TASKS = ("classification", "regression")
MAX_CLASSES_AUTO = 20  # an integer-valued target with at most this many values is taken as class labels


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
    # Tabular data with categorical columns or missing values (:mod:`.features`): ``frame`` holds the raw
    # feature columns (a pandas DataFrame: numbers with NaN where missing, categories as text), ``features`` the
    # encoding's settings. Then ``X`` is that encoding fitted to *all* rows, for a look only: training fits
    # it again to its training split alone, and the model applies what it learnt there.
    frame: object | None = None
    features: object | None = None

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
    bad = first_nonfinite(X)
    if bad is not None:
        i, j = bad
        raise DeltapropError(f"{where}: row {i + first_row}, column {j + 1} is {X[i, j]} (NaN and Inf are not data)")
    return X


def check_dataset(ds: Dataset) -> None:
    """The arrays of a Dataset made in code (files are checked as they are read): shapes agree, finite, not empty."""
    where = ds.info.get("source", ds.name)
    ds.X = real_matrix(ds.X, f"{where}: X")
    ds.T = real_matrix(ds.T, f"{where}: T")
    if ds.X.shape[0] != ds.T.shape[0]:
        raise DeltapropError(f"{where}: X has {ds.X.shape[0]} rows but T has {ds.T.shape[0]}")
    if ds.task not in TASKS:
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


def is_integral(y: Array) -> bool:
    with np.errstate(invalid="ignore"):  # inf has no remainder: not integral
        return np.issubdtype(y.dtype, np.integer) or bool(np.all(np.mod(y, 1) == 0))


def targets_from_column(y: Array, where: str, task: str | None = None):
    """(T, task, classes) from one target column: strings or few integers are labels, other numbers values."""
    y = np.asarray(y)
    if y.size == 0:
        raise DeltapropError(f"{where}: no data rows")
    numeric = np.issubdtype(y.dtype, np.number)
    if task is None:
        small = numeric and is_integral(y) and len(np.unique(y)) <= MAX_CLASSES_AUTO
        task = "classification" if (not numeric or small) else "regression"
    if task == "regression":
        if not numeric:
            bad = next(v for v in y if not is_number(v))
            raise DeltapropError(f"{where}: regression needs numeric targets, found {str(bad)!r}")
        y = y.astype(np.float64)
        bad = first_nonfinite(y)
        if bad is not None:
            raise DeltapropError(f"{where}: targets contain NaN or Inf (row {bad[0] + 1})")
        return y[:, None], task, None
    if task != "classification":
        raise DeltapropError(f"task must be 'classification' or 'regression', got {task!r}")
    if numeric and first_nonfinite(y) is not None:
        raise DeltapropError(f"{where}: class labels contain NaN or Inf")
    if numeric and not is_integral(y):
        raise DeltapropError(f"{where}: class labels must be integers or names, found {y[np.mod(y, 1) != 0][0].item()!r}")
    if numeric and np.any(np.abs(y) > 2**53):  # beyond this, integer labels are not exact as floats
        raise DeltapropError(f"{where}: class label {y[np.abs(y) > 2**53][0].item()!r} is too large")
    values, labels = np.unique(y.astype(np.int64) if numeric else y, return_inverse=True)
    if len(values) > limits.MAX_CLASSES:
        raise DeltapropError(f"{where}: {len(values)} distinct class labels; the limit is "
                             f"deltaprop.limits.MAX_CLASSES = {limits.MAX_CLASSES} (raise it from Python if "
                             "this many classes are meant; an ID column is not a target; numbers to predict "
                             "are --task regression)")
    if len(values) < 2:
        raise DeltapropError(f"{where}: only one class ({values[0].item()!r}); classification needs at least two")
    return one_hot(labels, len(values)), task, [str(v) for v in values]


def is_number(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def align(ds: Dataset, model, where: str | None = None) -> Array:
    """The data set's targets in the model's output order (class names matched, not column positions)."""
    where = where or ds.name
    if ds.task != model.task:
        raise DeltapropError(f"{where}: a {ds.task} data set, but the model does {model.task}")
    if ds.frame is None and model.features is None and ds.X.shape[1] != model.net.sizes[0]:
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


def split(n: int, val: float, test: float, rng: np.random.Generator,
          labels: Array | None = None) -> tuple[Array, Array, Array]:
    """Index arrays (train, val, test) of a seeded random permutation of range(n).

    With ``labels`` (N,) the split is stratified: each part gets each class in the proportion of the whole
    (largest remainders), so a rare class is not left out of the test set by chance. The parts' sizes are
    those of the plain split, round(test·n) and round(val·n).
    """
    for what, frac in (("validation", val), ("test", test)):
        if not 0 <= frac < 1:
            raise DeltapropError(f"{what} split must be a fraction in [0, 1), got {frac}")
    n_test = int(round(test * n))
    n_val = int(round(val * n))
    if n - n_test - n_val < 1:
        raise DeltapropError(f"splits leave no training data ({n} samples, val {val}, test {test})")
    perm = rng.permutation(n)
    if labels is None:
        return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]
    labels = np.asarray(labels)[perm]
    classes, counts = np.unique(labels, return_counts=True)
    q_test = np.minimum(_quota(n_test, counts), counts - 1)  # every class keeps a training sample
    q_val = np.minimum(_quota(n_val, counts), counts - 1 - q_test)
    test_idx, val_idx, train_idx = [], [], []
    for k, c in enumerate(classes):
        rows = perm[labels == c]  # this class's rows, in the permutation's order
        test_idx.append(rows[:q_test[k]])
        val_idx.append(rows[q_test[k]:q_test[k] + q_val[k]])
        train_idx.append(rows[q_test[k] + q_val[k]:])
    pos = np.empty(n, np.int64)  # each part in the permutation's order, so its classes come shuffled
    pos[perm] = np.arange(n)
    out = []
    for idx in (train_idx, val_idx, test_idx):
        idx = np.concatenate(idx)
        out.append(idx[np.argsort(pos[idx], kind="stable")])
    return tuple(out)


def _quota(size: int, counts: Array) -> Array:
    """``size`` shared among classes of ``counts`` in proportion, by largest remainders (ties: the lower class)."""
    exact = size * counts / counts.sum()
    q = np.floor(exact).astype(np.int64)
    rest = size - int(q.sum())
    if rest > 0:
        q[np.argsort(-(exact - q), kind="stable")[:rest]] += 1
    return q


def fingerprint(X, T) -> str:
    """sha256 over the dtype, shape and bytes of X, then of T: the identity of a data set, so a run can tell
    the data it was trained on from a shuffled or edited copy."""
    import hashlib

    h = hashlib.sha256()
    for a in (X, T):
        a = np.asarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        rows = max(1, 2**22 // max(a[:1].nbytes, 1))  # row blocks in C order: the bytes of the C layout, no copy of all
        for i in range(0, max(a.shape[0], 1) if a.ndim else 1, rows):
            h.update(memoryview(np.ascontiguousarray(a[i:i + rows] if a.ndim else a)).cast("B"))
    return h.hexdigest()


#: bytes of float64 scratch the standardization works in at a time, so the data is never copied whole for it
STANDARDIZE_BLOCK = 2**25


def row_blocks(n_rows: int, row_bytes: int) -> list[slice]:
    """Slices of rows of about STANDARDIZE_BLOCK bytes at most (at least one row each)."""
    step = max(1, STANDARDIZE_BLOCK // max(row_bytes, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def standardize(A: Array, mean: Array, scale: Array, dtype) -> Array:
    """(A − mean) / scale in ``dtype``: the float64 values, rounded to dtype, computed a block of rows at a time
    so that A is never copied whole in float64 (two such copies of MNIST's training split were a third of
    training's peak memory)."""
    out = np.empty(A.shape, dtype)
    for rows in row_blocks(A.shape[0], 8 * A.shape[1] if A.ndim > 1 else 8):
        out[rows] = (A[rows] - mean) / scale
    return out


def standardizer(X: Array) -> tuple[Array, Array]:
    """(mean, scale) per column of the training inputs; a constant column gets scale 1 (it becomes 0).

    The population standard deviation √(Σ(x − x̄)²/N), as ``X.std(axis=0)``, summed a block of rows at a time
    in float64 (``X.std`` makes a float64 copy of all of X to subtract the mean: a third of the peak memory of
    training on MNIST); it agrees with ``X.std`` to rounding (tests/test_data.py)."""
    X = np.asarray(X)
    mean = X.mean(axis=0, dtype=np.float64)
    sq = np.zeros_like(mean)
    for rows in row_blocks(X.shape[0], 8 * X.shape[1] if X.ndim > 1 else 8):
        d = X[rows] - mean
        sq += np.einsum("ij,ij->j", d, d) if d.ndim > 1 else d @ d
    scale = np.sqrt(sq / max(X.shape[0], 1))
    scale[scale == 0] = 1.0
    return mean, scale
