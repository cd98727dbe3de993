"""Features from tabular columns: categorical columns one-hot encoded, missing values imputed.

The statistics are learnt by scikit-learn's transformers (``SimpleImputer`` for the fill values,
``OneHotEncoder`` for the categories) from the *training rows only*, then kept as plain data in
:class:`Features` (column names, categories as text, fill values as numbers or text): that is what a model file
stores (JSON, never a pickle) and what :func:`transform` applies to new rows, so a model encodes the data of
``predict`` and ``evaluate`` exactly as it encoded its training split.

A categorical column with K categories becomes K inputs x_{c=v} ∈ {0, 1}, one per category v, in sorted order;
a number column stays one input. Missing cells: ``impute="none"`` refuses them (naming the cell), ``mean`` /
``median`` / ``most_frequent`` fill number columns with that statistic of the training rows, and categorical
columns always with their most frequent category. A category the training rows never showed is an error naming
the cell (``unseen="error"``) or an all-zero one-hot row (``unseen="ignore"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import limits
from ..errors import DeltapropError

Array = np.ndarray
IMPUTE = ("none", "mean", "median", "most_frequent")
UNSEEN = ("error", "ignore")


def check_impute(value: str) -> str:
    if value not in IMPUTE:
        raise DeltapropError(f"impute must be one of {', '.join(IMPUTE)}, got {value!r}")
    return value


def check_unseen(value: str) -> str:
    if value not in UNSEEN:
        raise DeltapropError(f"unseen categories: 'error' or 'ignore', got {value!r}")
    return value


@dataclass
class Spec:
    """What was asked: the raw input columns in order, which are categorical, how to impute, unseen categories."""

    columns: list[str]
    categorical: list[str] = field(default_factory=list)
    impute: str = "none"
    unseen: str = "error"


@dataclass
class Features:
    """What :func:`fit` learnt, as plain data: categories per categorical column (sorted text), the fill value
    per column that had one, and the settings."""

    columns: list[str]
    categories: dict[str, list[str]]
    fill: dict[str, float | str]
    impute: str = "none"
    unseen: str = "error"

    def output_names(self) -> list[str]:
        """The network's input names: a number column's own name, ``col=value`` per category."""
        out = []
        for c in self.columns:
            out += [f"{c}={v}" for v in self.categories[c]] if c in self.categories else [c]
        return out

    def to_dict(self) -> dict:
        return {"columns": self.columns, "categories": self.categories, "fill": self.fill, "impute": self.impute,
                "unseen": self.unseen}

    @classmethod
    def from_dict(cls, d, where: str) -> "Features":
        """Features from a model file's JSON, every value checked (text lists, finite numbers, known settings)."""
        def bad(what):
            return DeltapropError(f"{where}: features: {what}")

        if not isinstance(d, dict):
            raise bad("must be an object")
        cols, cats, fill = d.get("columns"), d.get("categories"), d.get("fill")
        if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols) or len(set(cols)) != len(cols):
            raise bad("columns must be a list of distinct names")
        if not isinstance(cats, dict) or not all(k in cols and isinstance(v, list) and v and len(v) <= limits.MAX_CATEGORIES
                                                 and all(isinstance(x, str) for x in v) for k, v in cats.items()):
            raise bad("categories must map input columns to lists of text")
        if not isinstance(fill, dict) or not all(k in cols for k in fill):
            raise bad("fill must map input columns to values")
        for k, v in fill.items():
            ok = isinstance(v, str) if k in cats else (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       and math.isfinite(v))
            if not ok:
                raise bad(f"fill value of {k!r} is {v!r}")
        try:
            return cls(list(cols), {k: list(v) for k, v in cats.items()}, dict(fill), check_impute(d.get("impute")),
                       check_unseen(d.get("unseen")))
        except DeltapropError as e:
            raise bad(str(e)) from None


def _object_column(values) -> Array:
    """Text cells as an object array with NaN for missing (None or NaN), the form scikit-learn's imputer reads."""
    out = np.asarray(values, dtype=object).copy()
    empty = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in out], dtype=bool)
    out[~empty] = [str(v).strip() for v in out[~empty]]
    out[empty] = np.nan
    return out


def fit(frame, spec: Spec, where: str = "data") -> Features:
    """Learn the fill values and categories from ``frame`` (the training rows' raw columns, a DataFrame)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    check_impute(spec.impute)
    check_unseen(spec.unseen)
    cats, fill = {}, {}
    numeric = [c for c in spec.columns if c not in spec.categorical]
    for c in spec.columns:
        values = frame[c].to_numpy(dtype=object if c in spec.categorical else np.float64)
        present = ~np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values])
        if not present.any():
            raise DeltapropError(f"{where}: column {c!r} has no value in the training rows")
    if numeric and spec.impute != "none":
        M = frame[numeric].to_numpy(dtype=np.float64)
        imp = SimpleImputer(strategy=spec.impute).fit(M)
        fill.update({c: float(v) for c, v in zip(numeric, imp.statistics_)})  # any column may miss a cell later
    if spec.categorical:
        C = np.column_stack([_object_column(frame[c].to_numpy(dtype=object)) for c in spec.categorical])
        if spec.impute != "none":  # categories: the most frequent one, whatever the number columns get
            imp = SimpleImputer(strategy="most_frequent", missing_values=np.nan).fit(C)
            fill.update({c: str(v) for c, v in zip(spec.categorical, imp.statistics_)})
            C = imp.transform(C)
        enc = OneHotEncoder(handle_unknown="ignore").fit(C.astype(str))
        for c, values in zip(spec.categorical, enc.categories_):
            if len(values) > limits.MAX_CATEGORIES:
                raise DeltapropError(f"{where}: column {c!r} has {len(values)} categories; the limit is "
                                     f"deltaprop.limits.MAX_CATEGORIES = {limits.MAX_CATEGORIES} (an ID column? "
                                     "remove it from the inputs)")
            cats[c] = [str(v) for v in values]
    return Features(list(spec.columns), cats, fill, spec.impute, spec.unseen)


def transform(features: Features, frame, where: str = "inputs", first_row: int = 1) -> Array:
    """The network's inputs (N, len(output_names())) in the user's units from the raw columns of ``frame``
    (a DataFrame with those column names): imputed, one-hot encoded; the checks name the row and column."""
    missing = [c for c in features.columns if c not in frame.columns]
    if missing:
        raise DeltapropError(f"{where}: the model needs the columns {', '.join(features.columns)} (missing "
                             f"{', '.join(missing)})")
    N = len(frame)
    parts = []
    for c in features.columns:
        col = frame[c].to_numpy(dtype=object)
        if c in features.categories:
            values = _object_column(col)
            empty = np.array([isinstance(v, float) for v in values], dtype=bool)
            _fill(values, empty, features, c, first_row,
                  f"{where}: row {{row}}, column {c!r}: empty cell (the model was trained without --impute)")
            cats = features.categories[c]
            index = {v: k for k, v in enumerate(cats)}
            codes = np.array([index.get(v, -1) for v in values], dtype=np.int64)
            if (codes < 0).any() and features.unseen == "error":
                i = int(np.argmax(codes < 0))
                raise DeltapropError(f"{where}: row {i + first_row}, column {c!r}: category {values[i]!r} was not "
                                     f"in the training rows ({', '.join(cats[:10])}{', …' if len(cats) > 10 else ''}"
                                     "); --unseen ignore encodes it as no category")
            block = np.zeros((N, len(cats)))
            ok = codes >= 0
            block[np.flatnonzero(ok), codes[ok]] = 1.0
            parts.append(block)
        else:
            try:
                x = np.array([np.nan if v is None else float(v) for v in col], dtype=np.float64)
            except (TypeError, ValueError):
                i = next(i for i, v in enumerate(col) if not _is_float(v))
                raise DeltapropError(f"{where}: row {i + first_row}, column {c!r}: {str(col[i])!r} is not a "
                                     "number") from None
            if np.isinf(x).any():
                i = int(np.argmax(np.isinf(x)))
                raise DeltapropError(f"{where}: row {i + first_row}, column {c!r}: {str(float(x[i]))!r} (NaN and Inf are not data)")
            _fill(x, np.isnan(x), features, c, first_row, f"{where}: row {{row}}, column {c!r}: '' is not a number "
                  "(an empty cell; the model was trained without --impute)")
            parts.append(x[:, None])
    return np.hstack(parts) if parts else np.empty((N, 0))


def _fill(values: Array, empty: Array, features, c: str, first_row: int, refusal: str) -> None:
    """Fill the empty cells of column ``c`` in place with the training rows' fill value; without one (trained
    without --impute) refuse the first, ``refusal`` naming its ``{row}``."""
    if empty.any():
        if c not in features.fill:
            raise DeltapropError(refusal.replace("{row}", str(int(np.argmax(empty)) + first_row)))
        values[empty] = features.fill[c]


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
