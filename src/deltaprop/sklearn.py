"""``from deltaprop.sklearn import DeltapropClassifier, DeltapropRegressor``: the scikit-learn estimators
(they live in :mod:`deltaprop.interop.sklearn`)."""

from .interop.sklearn import DeltapropClassifier, DeltapropRegressor

__all__ = ["DeltapropClassifier", "DeltapropRegressor"]
