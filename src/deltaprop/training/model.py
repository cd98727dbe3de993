"""The trained model: a network plus what was learnt from the training split besides the weights, and how a
run's data are put into the network's units.

A :class:`Model` keeps the feature encoding of tabular data (:mod:`deltaprop.data.features`: categories one-hot,
missing values imputed), the input standardization (x − mean)/scale, for regression the target standardization,
and the class names; its ``X`` is always in the user's units. :func:`prepare` splits a data set (seeded,
stratified for classes) and learns all of those from the training split only; :func:`evaluate` gives the loss as
trained and the task's metrics: accuracy, per-class precision, recall and F1 and the confusion matrix for
classification; MSE, MAE and R² in the user's units for regression.
The file format is :mod:`deltaprop.files.modelfile`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import checks, limits
from ..data import dataset as data_mod
from ..data import features as feat
from ..engine import kernels
from ..engine import losses as loss_mod
from ..engine.layered import Network
from ..errors import DeltapropError
from ..files import modelfile
from .config import TrainConfig, resolve, streams

Array = np.ndarray


@dataclass
class Model:
    """A trained network with its preprocessing. ``X`` is always in the user's units, (N, n_in)."""

    net: Network
    task: str  # "classification" or "regression"
    x_mean: Array  # (n_in,)
    x_scale: Array  # (n_in,), > 0
    t_mean: Array | None = None  # (n_out,), regression only: targets are standardized for training too
    t_scale: Array | None = None
    classes: list[str] | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    info: dict = field(default_factory=dict)
    features: feat.Features | None = None  # the encoding of raw table columns, learnt from the training rows

    def encode(self, X, where: str = "inputs") -> Array:
        """The network's inputs in the user's units (N, n_in): a DataFrame or a Dataset with named columns goes
        through the model's feature encoding (its columns picked by name); an array is taken as it is."""
        if isinstance(X, data_mod.Dataset):
            if X.frame is not None:
                X = X.frame
            elif X.feature_names and self.feature_names and (self.features is not None
                                                             or set(X.feature_names) == set(self.feature_names)):
                import pandas as pd

                X = pd.DataFrame(X.X, columns=X.feature_names)
            else:
                X = X.X
        if hasattr(X, "columns") and hasattr(X, "iloc"):  # a pandas DataFrame
            if self.features is not None:
                return feat.transform(self.features, X, where)
            names = self.feature_names or list(X.columns)
            absent = [n for n in names if n not in X.columns]
            if absent:
                raise DeltapropError(f"{where}: the model needs the columns {', '.join(names)} (missing "
                                     f"{', '.join(absent)})")
            for n in names:
                if X[n].dtype.kind not in "biuf":
                    raise DeltapropError(f"{where}: column {n!r} holds text, but the model was trained on numbers "
                                         "there")
            X = X[names].to_numpy(dtype=np.float64)
        return data_mod.real_matrix(X, "inputs X", columns=self.net.sizes[0])

    def inputs(self, X) -> Array:
        """Standardized inputs (N, n_in) in the network's dtype."""
        return self.standardize(self.encode(X))

    def standardize(self, X: Array) -> Array:
        """Encoded inputs X (N, n_in), in the user's units, in the network's units and dtype: (X − x̄) / s.
        Predictions and evaluations call it a chunk of rows at a time."""
        return data_mod.standardize(X, self.x_mean, self.x_scale, self.net.dtype)

    def targets(self, T) -> Array:
        """Targets (N, n_out) as the network was trained on them (standardized for regression)."""
        T = np.asarray(T, dtype=np.float64)
        T = T[:, None] if T.ndim == 1 else T
        if self.task == "regression":
            T = (T - self.t_mean) / self.t_scale
        return T.astype(self.net.dtype)

    def output(self, X) -> Array:
        """The output layer's activations aᴸ (N, n_out), in the user's units for regression; computed a chunk
        of rows at a time (:func:`deltaprop.limits.predict_rows`), so a wide network on many rows stays within
        a bounded working memory; outputs that are not finite are an error naming the row."""
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, naming the row
            X = self.encode(X)
            a = np.empty((X.shape[0], self.net.sizes[-1]))
            parts = chunks(self.net, X.shape[0])
            with kernels.threads_for(self.net.sizes, parts[0].stop if parts else 1):
                for rows in parts:
                    a[rows] = self.net.predict(self.standardize(X[rows]))
            if self.net.dtype != np.float64 and self.net.activations[-1].name == "softmax":
                a /= a.sum(axis=1, keepdims=True)  # a float32 softmax sums to 1 to float32 rounding; now to float64's
            a = a * self.t_scale + self.t_mean if self.task == "regression" else a
        finite_outputs(a, "the model's outputs")
        return a

    def predict(self, X) -> Array:
        """Class indices (N,) for classification (names in ``classes``), values (N, n_out) for regression."""
        a = self.output(X)
        return np.argmax(a, axis=1) if self.task == "classification" else a

    def predict_proba(self, X) -> Array:
        """Class probabilities (N, K): the softmax (or sigmoid) outputs."""
        if self.task != "classification":
            raise DeltapropError("class probabilities need a classification model")
        return self.output(X)

    def save(self, path: str | Path, owner: str | None = None) -> None:
        """Write the model file (``owner``: a run's id, naming the temporary file)."""
        modelfile.save(path, self.net, self.task, self.x_mean, self.x_scale, self.t_mean, self.t_scale,
                       self.classes, self.feature_names, self.target_names, self.info,
                       features=self.features.to_dict() if self.features is not None else None, owner=owner)


def load(path: str | Path) -> Model:
    """Read and check a model file written by :meth:`Model.save`."""
    fields = modelfile.load(path)
    spec = fields.pop("features", None)
    model = Model(**fields)
    if spec is not None:
        model.features = feat.Features.from_dict(spec, str(path))
        n = len(model.features.output_names())
        if n != model.net.sizes[0]:
            raise DeltapropError(f"{path}: the features encode {n} inputs but the network takes {model.net.sizes[0]}")
    return model


# --- the task's metric ------------------------------------------------------------------------------------------


def metric_name(task: str) -> str:
    """The task's metric: "accuracy" for classification, "mse" for regression."""
    return "accuracy" if task == "classification" else "mse"


def classification_report(y: Array, t: Array, classes: list[str] | None) -> dict:
    """From predicted and true class indices (N,): accuracy, the confusion matrix C[i][j] (samples of true
    class i predicted as j), per class precision = C_kk / Σ_i C_ik, recall = C_kk / Σ_j C_kj, F1 their harmonic
    mean (0 where undefined), support Σ_j C_kj, and the macro-averaged F1."""
    K = len(classes) if classes else int(max(y.max(), t.max())) + 1
    C = np.bincount(t * K + y, minlength=K * K).reshape(K, K)
    tp = np.diag(C).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(C.sum(axis=0) > 0, tp / C.sum(axis=0), 0.0)
        recall = np.where(C.sum(axis=1) > 0, tp / C.sum(axis=1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    names = classes or [str(k) for k in range(K)]
    return {"accuracy": float(tp.sum() / C.sum()), "classes": names, "confusion": C.tolist(),
            "per_class": {n: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                          for n, p, r, f, s in zip(names, precision, recall, f1, C.sum(axis=1))},
            "macro_f1": float(f1.mean())}


def regression_report(y: Array, T: Array) -> dict:
    """MSE mean((y − t)²), MAE mean|y − t| over all outputs, and R² = 1 − Σ(y − t)² / Σ(t − t̄)² averaged over the
    outputs (None for an output whose targets are constant)."""
    r = y - T
    ss_tot = ((T - T.mean(axis=0)) ** 2).sum(axis=0)
    r2 = [float(1 - a / b) if b > 0 else None for a, b in zip((r ** 2).sum(axis=0), ss_tot)]
    defined = [v for v in r2 if v is not None]
    return {"mse": float(np.mean(r ** 2)), "mae": float(np.mean(np.abs(r))),
            "r2": float(np.mean(defined)) if defined else None}


def task_metric(task: str, y: Array, T: Array) -> float:
    """Accuracy mean(argmax y = argmax t) for classification, or MSE mean((y − t)²) for regression; y and T
    (N, n_out) in the user's units."""
    if task == "classification":
        return float(np.mean(np.argmax(y, axis=1) == np.argmax(T, axis=1)))
    return float(np.mean((y - T) ** 2))


def format_metric(task: str, value: float, digits: int = 6) -> str:
    """The metric as a person reads it: accuracy in per cent (2 decimals), MSE to ``digits`` digits."""
    return f"{100 * value:.2f} %" if task == "classification" else f"{value:.{digits}g}"


# --- predict and evaluate -----------------------------------------------------------------------------------------


def predict(model: Model, X, proba: bool = False) -> Array:
    """Class indices (N,) — or probabilities (N, K) with ``proba`` — or regression values (N, n_out)."""
    checks.instance_arg(model, Model, "predict: model")
    return model.predict_proba(X) if checks.flag_arg(proba, "predict: proba") else model.predict(X)


def evaluate(model: Model, X, T=None, *, detail: bool = True) -> dict:
    """Loss (as trained: network units) and the task's metrics in the user's units: accuracy, per-class
    precision/recall/F1 and the confusion matrix (:func:`classification_report`), or MSE, MAE and R²
    (:func:`regression_report`); ``detail=False`` gives the loss and the task's one metric only.

    ``X`` (N, n_in) with ``T`` (N, n_out), or a :class:`~deltaprop.data.Dataset` (or a DataFrame of raw columns
    with T), whose targets are matched to the model's classes by name.
    """
    checks.instance_arg(model, Model, "evaluate: model")
    if T is None:
        if not isinstance(X, data_mod.Dataset):
            raise DeltapropError("evaluate needs X and T, or a Dataset")
        X, T = model.encode(X, X.name), data_mod.align(X, model)
    X = data_mod.real_matrix(model.encode(X, "evaluate: X"), "evaluate: X", columns=model.net.sizes[0])
    T = _as_targets(model, T)
    if T.shape != (X.shape[0], model.net.sizes[-1]):
        raise DeltapropError(f"evaluate: targets must have shape ({X.shape[0]}, {model.net.sizes[-1]}), got {T.shape}")
    net = model.net
    net.loss.check_targets(T, "evaluate: T")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, naming the row
        c, a = np.empty(X.shape[0]), np.empty((X.shape[0], net.sizes[-1]))
        parts = chunks(net, X.shape[0])  # bounded working memory, whatever the width of the network
        with kernels.threads_for(net.sizes, parts[0].stop if parts else 1):
            for rows in parts:
                trace = net.forward(model.standardize(X[rows]))
                c[rows], a[rows] = net.cost_per_sample(trace, model.targets(T[rows])), trace.a[-1]
    finite_outputs(a, "evaluate: the model's outputs")
    finite_outputs(c[:, None], "evaluate: the loss")
    out = {"loss": float(c.mean() if net.reduction == "mean" else c.sum())}
    y = a * model.t_scale + model.t_mean if model.task == "regression" else a
    out[metric_name(model.task)] = task_metric(model.task, y, T)
    if detail:
        if model.task == "classification":
            out.update(classification_report(np.argmax(y, axis=1), np.argmax(T, axis=1), model.classes))
        else:
            out.update(regression_report(y, T))
    return out


def chunks(net: Network, n: int):
    """Slices of ``n`` rows small enough that the z and a of every layer fit :data:`limits.PREDICT_BYTES`."""
    step = limits.predict_rows(net.sizes, net.dtype.itemsize)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def finite_outputs(a: Array, what: str) -> None:
    """Refuse NaN or Inf computed from finite inputs: the model's values overflow on these inputs."""
    bad = checks.first_nonfinite(a)
    if bad is not None:
        raise DeltapropError(f"{what} are not finite for row {bad[0] + 1} (the model's weights overflow on these "
                             "inputs: a model file edited to lie, or inputs far outside those it was trained on)")


def _as_targets(model: Model, T) -> Array:
    """T (N, n_out) as given, or for a classification model class indices (N,) made one-hot."""
    K = model.net.sizes[-1]
    T = checks.as_array(T, "evaluate: T")
    if model.task == "classification" and np.ndim(T) == 1 and K > 1:
        labels = data_mod.real_matrix(T, "evaluate: labels", columns=1)[:, 0]
        bad = (labels != np.round(labels)) | (labels < 0) | (labels >= K)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise DeltapropError(f"evaluate: label {labels[i]:g} in row {i + 1} is not a class index of the model "
                                 f"(0 to {K - 1}: {', '.join(model.classes or [])})")
        return data_mod.one_hot(labels, K)
    return data_mod.real_matrix(T, "evaluate: T", columns=K)


# --- a run's data in the network's units --------------------------------------------------------------------------


@dataclass
class Prepared:
    """The splits in network units (inputs standardized; regression targets too) and the model shell."""

    model: Model  # preprocessing filled in; its network is made by the training loop
    train: tuple[Array, Array]
    val: tuple[Array, Array] | None
    test: tuple[Array, Array] | None
    raw: dict  # the same splits in the user's units, for metrics and plots
    dataset: data_mod.Dataset
    split: dict = field(default_factory=dict)  # row indices of ds per part ("train", "val", "test")
    fingerprint: str = ""  # data_mod.fingerprint(ds.X, ds.T): which data the split indexes


def prepare(ds: data_mod.Dataset, cfg: TrainConfig) -> Prepared:
    """Split ``ds`` with the seed's split stream (stratified by class for classification), learn the feature
    encoding and the standardization from the training split, and convert every split to the network's units
    and dtype."""
    split_rng, _, _ = streams(cfg.seed)
    test_split = 0.0 if ds.test is not None else cfg.test_split
    labels = ds.labels if ds.task == "classification" else None
    i_tr, i_va, i_te = data_mod.split(ds.X.shape[0], cfg.val_split, test_split, split_rng, labels=labels)
    X_all, features, feature_names = ds.X, None, ds.feature_names
    if ds.frame is not None:  # categories and fill values from the training rows only
        where = ds.info.get("source", ds.name)
        features = feat.fit(ds.frame.iloc[i_tr], ds.features, where)
        X_all = feat.transform(features, ds.frame, where, ds.info.get("first_row", 1))
        feature_names = features.output_names()
    raw = {"train": (X_all[i_tr], ds.T[i_tr])}
    if len(i_va):
        raw["val"] = (X_all[i_va], ds.T[i_va])
    if ds.test is not None:
        raw["test"] = ds.test
    elif len(i_te):
        raw["test"] = (X_all[i_te], ds.T[i_te])
    x_mean, x_scale = data_mod.standardizer(raw["train"][0])
    t_mean = t_scale = None
    if ds.task == "regression":  # targets of any scale become O(1), so one learning rate suits every set
        t_mean, t_scale = data_mod.standardizer(raw["train"][1])
        if resolve(cfg, ds.task)["loss"] not in loss_mod.REAL_TARGETS:  # a shift would leave the loss's domain
            t_mean, t_scale = np.zeros_like(t_mean), np.ones_like(t_scale)
    fp = data_mod.fingerprint(ds.X, ds.T)
    info = {"data": ds.name, **{f"n_{k}": int(v[0].shape[0]) for k, v in raw.items()}, "fingerprint": fp,
            "n_rows": int(ds.X.shape[0])}
    model = Model(None, ds.task, x_mean, x_scale, t_mean, t_scale, ds.classes, feature_names,
                  ds.target_names, info, features)
    dt = checks.as_dtype(cfg.dtype)

    def units(part):
        X, T = part
        Ts = (data_mod.standardize(T, t_mean, t_scale, dt) if ds.task == "regression"
              else np.ascontiguousarray(T, dtype=dt))
        return data_mod.standardize(X, x_mean, x_scale, dt), Ts

    conv = {k: units(v) for k, v in raw.items()}
    split = {"train": i_tr, "val": i_va, "test": i_te}
    return Prepared(model, conv["train"], conv.get("val"), conv.get("test"), raw, ds, split, fp)
