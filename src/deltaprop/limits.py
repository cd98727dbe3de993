"""The size limits every wing shares: one named number per rule, so training and loading agree on what a
network may be and how large a file may grow.

A limit refuses what is a typo (``--hidden 100000000``) or hostile (a file declaring a billion units) before
anything is allocated. The budgets below (:data:`BUDGETS`) bound the time and memory of every reader and command;
each can be raised by the user (``--limit NAME=VALUE``, or DELTAPROP_LIMITS), and a refusal says how. The other
limits are module attributes: raise one from Python (``deltaprop.limits.MAX_CLASSES = 5000``) when a larger input
is meant. Nothing here imports anything of deltaprop's but the error type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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


# --- budgets: every reader and every command checks the work it is about to do against one of these --------------
# A budget has a name, a default and a way to raise it: ``deltaprop --limit NAME=VALUE …`` or the environment
# variable DELTAPROP_LIMITS="NAME=VALUE,NAME=VALUE" (the flag wins). The defaults are chosen so that any input
# within them is read, checked and refused or started in seconds and under 1 GB on a 2-core machine; a refusal
# names the budget and how to raise it (:func:`refuse`).


@dataclass(frozen=True)
class Budget:
    name: str
    default: int
    what: str
    unit: str = ""  # "bytes": the value may be written 512MiB, 2GiB, 1e9


BUDGETS: dict[str, Budget] = {b.name: b for b in (
    Budget("memory", 2**31, "memory a command plans to allocate, estimated from sizes before the work", "bytes"),
    Budget("toml_depth", 64, "nesting depth of a TOML file: dotted key parts, table headers, arrays, inline tables"),
    Budget("toml_items", 150_000, "keys, values and tables of a TOML file, counted before it is parsed "
                                  "(Python's TOML parser reads 35 000–100 000 a second on a busy core)"),
    Budget("trace_values", 200_000, "numbers a trace reports: samples × neurons (z, a, δ) plus weights"),
    Budget("table_cells", 20_000, "cells of the tables `trace` prints (more: use --json)"),
    Budget("graph_neurons", 20_000, "neurons of a neuron-level network (the graph engine runs one level at a time "
                                    "in Python)"),
    Budget("gradcheck_work", 5_000_000_000, "gradcheck's work: parameters × samples × (neurons + weights), two passes "
                                         "per parameter"),
    Budget("idx_elements", IDX_ELEMENTS, "numbers an IDX file may declare"),
)}

_BYTE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
               "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}
_overrides: dict[str, int] = {}  # set by the --limit flag (set_limits)
ENV = "DELTAPROP_LIMITS"


def parse_value(name: str, text: str, where: str) -> int:
    """The integer value of budget ``name`` written as ``text`` (bytes may carry a unit: 512MiB, 2GiB, 3e9)."""
    import re

    b = BUDGETS[name]
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    unit = m.group(2) if m else None
    if m is None or unit not in (_BYTE_UNITS if b.unit == "bytes" else ("",)):
        form = "a number of bytes such as 2GiB, 512MiB or 3e9" if b.unit == "bytes" else "a whole number"
        raise DeltapropError(f"{where}: limit {name}={text!r} must be {form}")
    value = float(m.group(1)) * _BYTE_UNITS[unit]
    if not 1 <= value <= 2**62:
        raise DeltapropError(f"{where}: limit {name}={text!r} must be between 1 and 2**62")
    return int(value)


def parse_settings(text: str, where: str) -> dict[str, int]:
    """``"memory=2GiB,trace_values=10**6"``-style text (comma-separated NAME=VALUE) → {name: value}."""
    out = {}
    for part in (p for p in text.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or name not in BUDGETS:
            raise DeltapropError(f"{where}: {part.strip()!r} is not NAME=VALUE with NAME one of "
                                 f"{', '.join(BUDGETS)}")
        out[name] = parse_value(name, value, where)
    return out


def set_limits(values: dict[str, int]) -> None:
    """Raise (or lower) budgets for this process, as ``--limit`` does; ``{}`` restores the defaults and the
    environment's."""
    _overrides.clear()
    _overrides.update(values)


def value(name: str) -> int:
    """The budget in force: ``--limit`` (set_limits), else DELTAPROP_LIMITS, else the default."""
    if name in _overrides:
        return _overrides[name]
    env = os.environ.get(ENV)
    if env:
        from_env = parse_settings(env, f"environment variable {ENV}")
        if name in from_env:
            return from_env[name]
    return BUDGETS[name].default


def _show(name: str, v: int) -> str:
    if BUDGETS[name].unit == "bytes":
        for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if v >= size:
                return f"{v / size:.3g} {unit}"
        return f"{v} bytes"
    return f"{v:,}"


def refuse(name: str, where: str, amount: int, what: str) -> DeltapropError:
    """The error for ``amount`` over budget ``name``: it names the budget, its value and how to raise it."""
    limit = value(name)
    return DeltapropError(f"{where}: {what} is too large: {_show(name, amount)}, over the {name} limit of {_show(name, limit)} "
                          f"(raise it with --limit {name}=N or {ENV}={name}=N)")


def check(name: str, amount: int, where: str, what: str) -> None:
    """Refuse ``amount`` (of the work measured by budget ``name``) if it is over the budget."""
    if amount > value(name):
        raise refuse(name, where, amount, what)


# --- memory estimates ------------------------------------------------------------------------------------------
# What a command will hold at its peak, in bytes of float64, from the sizes alone (nothing is allocated first).
# Measured against ru_maxrss in fuzz/stress.py; the factors are rounded up.

FLOAT = 8


def training_bytes(sizes: list[int], batch: int, n_samples: int, optimizer_slots: int = 2,
                   itemsize: int = FLOAT) -> int:
    """Training's peak: parameters × (weights, gradients, optimizer slots, best weights, the checkpoint being
    written), as float64 to be safe; a batch's z, a, δ and scratch per unit (4 arrays of batch × Σ n_l in the
    network's dtype, ``itemsize`` bytes); the data, n_samples × (n_0 + n_L) numbers three times (the file's
    float64 array, the float64 splits kept for the metrics, the standardized splits in the network's dtype);
    and one chunk of evaluation, at most PREDICT_BYTES (the metrics run a chunk of rows at a time,
    :func:`predict_rows`)."""
    params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    return (FLOAT * params * (4 + optimizer_slots) + 4 * itemsize * batch * sum(sizes)
            + (16 + itemsize) * n_samples * (sizes[0] + sizes[-1])
            + min(PREDICT_BYTES, n_samples * predict_row_bytes(sizes, itemsize)))


def check_memory(amount: int, where: str, what: str = "the memory needed") -> None:
    check("memory", amount, where, what)


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


def predict_row_bytes(sizes: list[int], itemsize: int = 8) -> int:
    """The working memory of predicting one row: the z and a of every layer, and the standardized inputs they
    start from (a float64 block, then the network's dtype)."""
    return 2 * itemsize * sum(sizes) + (8 + itemsize) * sizes[0]


def predict_rows(sizes: list[int], itemsize: int = 8) -> int:
    """Rows predicted at a time so that their working memory (:func:`predict_row_bytes`) stays within
    PREDICT_BYTES (at least one)."""
    per_row = predict_row_bytes(sizes, itemsize)
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
