"""The playground's 2-D data: the Playground's four classification sets (from :mod:`deltaprop.data.builtin`),
its regression plane, and a user's CSV of x1, x2, label.

Each set is (P (n, 2) points, y (n,) targets, task): y ∈ {0, 1} for classification (1 is the Playground's
blue +1), a real number for regression.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ...data import builtin, readers
from ...errors import DeltapropError

SETS = (*builtin.PLAYGROUND, "plane")
MAX_CSV_BYTES = 2**20  # a hand-made 2-D set; 1 MiB is tens of thousands of points
MAX_CSV_POINTS = 5000


def plane(seed: int = 0, n: int = builtin.PLAYGROUND_N, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's "regress plane": points uniform in [−6, 6]², t = (x₁ + x₂)/12 + noise·U(−1, 1)
    (its label is the sum scaled into [−1, 1]; ``noise`` in [0, 0.5] as the slider's 0–50 %)."""
    if not 0 <= noise <= 0.5:
        raise DeltapropError(f"noise must be in [0, 0.5] (the Playground's 0–50 %), got {noise}")
    rng = np.random.default_rng(seed)
    P = rng.uniform(-6, 6, (n, 2))
    t = (P[:, 0] + P[:, 1]) / 12 + rng.uniform(-1, 1, n) * noise
    return P, t


def make(name: str, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    if name == "plane":
        P, t = plane(seed, noise=noise)
        return P, t, "regression"
    ds = builtin.playground(name, seed=seed, noise=noise)
    return ds.X, ds.T[:, 1].astype(float), "classification"


def from_csv(text: str) -> tuple[np.ndarray, np.ndarray, str]:
    """x1, x2 and a label from CSV text with a header row, read by deltaprop's own CSV reader: two classes
    (any two labels, the second in sorted order is +1) or a real-valued target (regression)."""
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise DeltapropError(f"CSV larger than {MAX_CSV_BYTES // 2**10} KiB, the playground's limit")
    fd, path = tempfile.mkstemp(suffix=".csv", prefix="playground-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        ds = readers.csv_dataset(path)
    except DeltapropError as e:
        raise DeltapropError(str(e).replace(path, "CSV")) from None
    finally:
        os.unlink(path)
    if ds.X.shape[1] != 2:
        raise DeltapropError(f"CSV: the playground needs two input columns and a label, got {ds.X.shape[1]} inputs")
    if len(ds.X) > MAX_CSV_POINTS or len(ds.X) < 4:
        raise DeltapropError(f"CSV: between 4 and {MAX_CSV_POINTS} points, got {len(ds.X)}")
    if ds.task == "classification":
        if ds.T.shape[1] != 2:
            raise DeltapropError(f"CSV: two classes for the playground, got {ds.T.shape[1]}")
        return ds.X, ds.T[:, 1].astype(float), "classification"
    return ds.X, ds.T[:, 0].astype(float), "regression"
