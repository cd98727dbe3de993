"""The size limits every wing shares: one named number per rule, so training and loading agree on what a
network may be and how large a file may grow.

A limit refuses what is a typo (``--hidden 100000000``) or hostile (a file declaring a billion units) before
anything is allocated. Later work extends this module into budgets (time, memory); nothing here imports
anything of deltaprop's but the error type. A limit is a module attribute: raise one from Python
(``deltaprop.limits.MAX_CLASSES = 5000``) when a larger input is meant.
"""

from __future__ import annotations

from .errors import DeltapropError

# --- one network ---------------------------------------------------------------------------------------------
MAX_PARAMS = 2**25  # weights and biases: 256 MiB of float64; more is a typo, not a network for a CPU
MAX_LAYERS = 1000  # weight layers L
MAX_WIDTH = 1_000_000  # units in one layer
MAX_LAYER_WEIGHTS = 1_000_000  # weights between two layers that a hand-written network file may declare

# --- files ---------------------------------------------------------------------------------------------------
MODEL_FILE_BYTES = 2**30  # uncompressed size a model or checkpoint file may declare
META_BYTES = 2**24  # JSON metadata inside a model or checkpoint
CONFIG_BYTES = 2**20  # a run's config.toml holds a few dozen settings
NETWORK_FILE_BYTES = 16 * 2**20  # a network file is text written by a person
DATA_FILE_BYTES = 2**30  # a data file (.npz, IDX, gzip compressed or not)
CSV_BYTES = 2**28  # CSV cells become Python strings first (~10× their bytes); MNIST as CSV is 110 MB
IDX_ELEMENTS = 2**27  # numbers an IDX file may declare: 1 GiB as float64, ~3× MNIST's 47 million
MAX_COLUMNS = 2**16  # columns of a CSV or Parquet table (a header of 100,000 names is refused before parsing)
MAX_CLASSES = 1000  # distinct class labels: their one-hot targets are N × K; 20,000 labels in 20,000 rows is an ID
MAX_CATEGORIES = 1000  # distinct values of one categorical feature column (one input per value)
NPZ_ARRAYS = 10_000  # members of an .npz: a model of 1000 layers has ~2000 arrays, a checkpoint ~5× that


def network_sizes(sizes, where: str) -> list[int]:
    """``sizes`` [n0, …, nL] if it is a list of 2 to MAX_LAYERS + 1 integers in [1, MAX_WIDTH] whose
    parameters Σ (n_{l−1} + 1) n_l stay within MAX_PARAMS; else a DeltapropError naming ``where``."""
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in sizes)):
        raise DeltapropError(f"{where}: network sizes must be a list of 2 to {MAX_LAYERS + 1} integers in "
                             f"[1, {MAX_WIDTH}], got {sizes!r}")
    n_params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if n_params > MAX_PARAMS:
        raise DeltapropError(f"{where}: a network of sizes {sizes} has {n_params} parameters; "
                             f"the limit is {MAX_PARAMS}")
    return sizes


# --- runs, models and predictions (issue 18) -----------------------------------------------------------------
# Stored values of a model in which its outputs stay finite on inputs of ordinary size: a weight, bias or mean
# beyond 1e150 (or a scale below 1e-150) is not something training makes; such a file was edited to lie, and
# x_scale = 1e-320, W = 1e300, x_mean = 1e308 would give Inf then NaN. Training refuses data whose
# standardization falls outside the same range, so every model it saves loads again.
MODEL_VALUE_MAX = 1e150  # |W|, |b|, |x_mean|, |t_mean|, and x_scale, t_scale at most
MODEL_SCALE_MIN = 1e-150  # x_scale, t_scale at least
PREDICT_BYTES = 2**28  # working memory of one chunk of predictions: z and a of every layer for its rows
RUN_FILE_BYTES = 2**20  # run.json: the identity of a run (id, settings, fingerprints)
CHECKPOINT_ARRAYS_PER_LAYER = 8  # W, b, their best copies and two optimizer slots each: within NPZ_ARRAYS


def value_range(values, where: str, low: float | None = None, high: float = MODEL_VALUE_MAX) -> None:
    """Refuse an array of stored values outside [−high, high] (or, with ``low``, outside [low, high]): the
    range in which a model computes finite outputs. ``values`` is a NumPy array already checked finite."""
    import numpy as np  # limits.py stays import-free at module level; NumPy is loaded by every caller anyway

    a = np.asarray(values)
    if a.size == 0:
        return
    if low is None:
        m = float(np.max(np.abs(a)))
        if not m <= high:
            raise DeltapropError(f"{where}: values up to {m:.3g} in size; a model's values stay within ±{high:g}")
    else:
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (lo >= low and hi <= high):
            raise DeltapropError(f"{where}: values from {lo:.3g} to {hi:.3g}; a model's scales lie in "
                                 f"[{low:g}, {high:g}]")


def predict_rows(sizes: list[int], itemsize: int = 8) -> int:
    """Rows predicted at a time so that the z and a of every layer stay within PREDICT_BYTES (at least one)."""
    per_row = 2 * itemsize * sum(sizes)
    if per_row > PREDICT_BYTES:
        raise DeltapropError(f"a network with layers {sizes} needs {per_row} bytes per sample to predict; the "
                             f"limit is {PREDICT_BYTES}")
    return max(1, PREDICT_BYTES // per_row)


def checkpoint_arrays(sizes: list[int]) -> None:
    """Refuse a network whose checkpoint would hold more arrays than a checkpoint may (NPZ_ARRAYS), so that
    what training starts, --resume can read back."""
    n = CHECKPOINT_ARRAYS_PER_LAYER * (len(sizes) - 1) + 3
    if n > NPZ_ARRAYS:
        raise DeltapropError(f"a network of {len(sizes) - 1} layers would write checkpoints of {n} arrays; "
                             f"the limit is {NPZ_ARRAYS}")
