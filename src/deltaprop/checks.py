"""The entry checks every module shares: one home for each rule, so two callers cannot drift apart.

A value from a user is checked where it enters and refused with a :class:`DeltapropError` that names it.
Nothing here imports anything of deltaprop's but the error type, so every wing may use it.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DeltapropError, DeltapropTypeError

Array = np.ndarray
DTYPES = {"float64": np.float64, "float32": np.float32}
REDUCTIONS = ("mean", "sum")


def as_dtype(dtype) -> np.dtype:
    """``dtype`` ("float64", "float32", np.float32, …) as a NumPy dtype, or an error naming the two choices."""
    try:
        key = dtype if isinstance(dtype, str) else np.dtype(dtype).name if isinstance(dtype, (type, np.dtype)) else None
    except TypeError:
        key = None
    if key not in DTYPES:
        raise DeltapropError(f"dtype must be float64 or float32, got {dtype!r}")
    return np.dtype(DTYPES[key])


def reduction(value, where: str = "") -> str:
    """The batch cost's reduction, "mean" or "sum"."""
    if not isinstance(value, str) or value not in REDUCTIONS:
        prefix = f"{where}: " if where else ""
        raise DeltapropError(f"{prefix}reduction must be 'mean' or 'sum', got {value!r}")
    return value


def finite_array(value, shape: tuple | None, what: str) -> Array:
    """``value`` as a float64 array (of ``shape`` when given), all finite, or a DeltapropError naming ``what``."""
    if isinstance(value, (str, bytes)):
        raise DeltapropError(f"{what}: not a numeric array (got text)")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError) as e:
        raise DeltapropError(f"{what}: not a numeric array ({e})") from None
    if shape is not None and arr.shape != tuple(shape):
        raise DeltapropError(f"{what} must have shape {tuple(shape)}, got {arr.shape}")
    if first_nonfinite(arr) is not None:
        raise DeltapropError(f"{what} contains NaN or Inf")
    return arr


def first_nonfinite(arr: Array) -> tuple[int, ...] | None:
    """The index of the first NaN or Inf in a numeric array (row-major), or None when all are finite; an integer
    array is always finite. Callers name the place in their own terms (a CSV row and column, an array index)."""
    arr = np.asarray(arr)
    if arr.dtype.kind in "biu":
        return None
    finite = np.isfinite(arr)
    if finite.all():
        return None
    return tuple(int(i) for i in np.argwhere(~finite)[0])


def number_in_text(text: str, what: str) -> float:
    """A finite number written as text (a CSV cell), or an error naming ``what``: not a number, or NaN/Inf."""
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or not math.isfinite(v):
        why = "is not a number" if v is None else "(NaN and Inf are not data)"
        raise DeltapropError(f"{what}: {text.strip()!r} {why}")
    return v


def finite_number(value, what: str) -> float:
    """A real, finite number (bool is refused: True is not a learning rate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DeltapropError(f"{what} must be a number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise DeltapropError(f"{what} is too large: {value!r}") from None
    if not math.isfinite(v):
        raise DeltapropError(f"{what} must be finite, got {value!r}")
    return v


def batch(value, width: int, name: str, n_rows: int | None = None, names: list[str] | None = None) -> Array:
    """``value`` as a batch of numbers, (N, width): a row per sample; the rule both engines apply to X and T.

    A 1-D value is one sample (a row), except that with ``n_rows`` given (T of a batch of N) and a single column
    N values are one value per sample (a column). Strings and objects are refused here, not deep inside a product.
    ``names`` (the graph's input or output ids) are quoted in the shape error.
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged rows
        raise DeltapropError(f"{name} must be a rectangular array of numbers ({str(e)[:80]})") from None
    if arr.dtype.kind not in "biufc":
        raise DeltapropTypeError(f"{name} must hold numbers, got an array of {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None] if n_rows is not None and width == 1 and arr.shape[0] == n_rows else arr[None, :]
    rows = "N" if n_rows is None else n_rows
    if arr.ndim != 2 or arr.shape[1] != width or (n_rows is not None and arr.shape[0] != n_rows):
        label = f" ({'inputs' if n_rows is None else 'outputs'} {names})" if names is not None else ""
        raise DeltapropError(f"{name} must have shape ({rows}, {width}){label}, got {arr.shape}")
    return arr


# --- arguments of the public functions: the wrong type is a DeltapropTypeError naming the argument -----------


def path_arg(value, name: str):
    """``value`` if it is a path (a str or an os.PathLike such as pathlib.Path)."""
    import os

    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise DeltapropTypeError(f"{name} must be a path (a str or a pathlib.Path), not {type(value).__name__}")
    return value


def text_arg(value, name: str) -> str:
    """``value`` if it is a str."""
    if not isinstance(value, str):
        raise DeltapropTypeError(f"{name} must be a string, not {type(value).__name__}")
    return value


def flag_arg(value, name: str) -> bool:
    """``value`` if it is True or False (NumPy's bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise DeltapropTypeError(f"{name} must be True or False, not {type(value).__name__}")
    return bool(value)


def instance_arg(value, kind, name: str):
    """``value`` if it is an instance of ``kind`` (a class or a tuple of classes)."""
    if not isinstance(value, kind):
        want = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DeltapropTypeError(f"{name} must be a {want}, not {type(value).__name__}")
    return value


def engine_dtype(dtype) -> np.dtype:
    """The dtype a network may be copied to (``astype``): float32, float64, or complex128 for the complex step."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise DeltapropTypeError(f"dtype must be float32, float64 or complex128, got {str(dtype)[:40]!r}") from None
    if dt not in (np.float32, np.float64, np.complex128):
        raise DeltapropError(f"dtype must be float32, float64 or complex128, got {dt}")
    return dt


def as_array(value, name: str) -> np.ndarray:
    """``np.asarray(value)``, with ragged rows (which NumPy refuses with a ValueError) a DeltapropError."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise DeltapropError(f"{name} must be a rectangular array of numbers ({str(e)[:80]})") from None
