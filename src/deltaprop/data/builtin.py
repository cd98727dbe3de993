"""The data sets deltaprop knows by name: built-in (the files scikit-learn ships) and synthetic (seeded).

- built-in: ``digits``, ``iris``, ``wine``, ``breast_cancer``, ``diabetes``, read from scikit-learn's files (no
  network, and without importing scikit-learn, which is slow to load);
- synthetic, all seeded: Bishop's figure 5.3 sets ``square``, ``sine``, ``abs``, ``step`` (50 points,
  x ~ U[−1, 1]) and the TensorFlow Playground's ``circle``, ``xor``, ``gauss``, ``spiral``.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

from ..errors import DeltapropError
from .dataset import Dataset, one_hot

Array = np.ndarray


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


NAMES = BUILTIN + tuple(BISHOP) + PLAYGROUND


def named(name: str, *, seed: int = 0, noise: float = 0.0) -> Dataset | None:
    """The built-in or synthetic set ``name`` (seeded), or None if no set has that name."""
    if name in BUILTIN:
        return _builtin(name)
    if name in BISHOP:
        return bishop(name, seed=seed, noise=noise)
    if name in PLAYGROUND:
        return playground(name, seed=seed, noise=noise)
    return None
