"""Data sets: user files read safely (NPZ with allow_pickle=False)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import DeltapropError


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file; object arrays (which would need pickle) are refused."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise DeltapropError(f"{path}: no such file") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DeltapropError(f"{path}: not a readable .npz file without pickled objects ({e})") from None


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
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise DeltapropError(f"{path}: {key} must hold real numbers, not {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise DeltapropError(f"{path}: {key} contains NaN or Inf")
    return X.astype(np.float64), T.astype(np.float64)
