"""scikit-learn estimators around deltaprop's engine and optimizers: :class:`DeltapropClassifier` and
:class:`DeltapropRegressor` (also ``from deltaprop.sklearn import …``).

    from deltaprop.sklearn import DeltapropClassifier
    clf = DeltapropClassifier(hidden=(32, 16), activation=["tanh", "z**2"], epochs=100, random_state=0)
    clf.fit(X, y).predict_proba(X)             # inside Pipeline, GridSearchCV, cross_val_score, clone …
    clf.loss_curve_, clf.transform(X, layer=1)   # training loss per epoch; a hidden layer's activations
    clf.save("model.npz")                        # deltaprop's own safe model file; pickle works too

Training is the training loop of :func:`deltaprop.fit`: inputs (and regression targets, for losses that allow a
shift) standardized with the training rows' statistics, then mini-batch descent in an order drawn from the
seeded generator, each step forward (z, a), backward (δ), ∂C/∂W, ∂C/∂b and the optimizer's update, with early
stopping on a validation split (patience ``early_stopping`` epochs; the best weights are kept).

``sample_weight`` w makes the batch cost C = Σₙ wₙ cₙ / Σₙ wₙ (mean; Σₙ wₙ cₙ for ``reduction="sum"``). The
backward pass gives δ per sample (∂cₙ/∂z), and the recursion is linear in δ, so the weighted gradients are
∂C/∂W = s (w ⊙ δ)ᵀ a_prev, ∂C/∂b = s Σₙ wₙ δₙ with s = 1/Σₙ wₙ; the standardization uses the weighted mean and
standard deviation, so integer weights and repeated rows give the same model when training is full-batch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..data import dataset as data_mod
from ..engine import kernels
from ..engine import losses as loss_mod
from ..engine.layered import Network
from ..errors import DeltapropError
from ..training import optim
from ..training.config import streams
from ..training.model import Model
from ..training.model import load as load_model

Array = np.ndarray


class _DeltapropEstimator(TransformerMixin, BaseEstimator):
    """What the classifier and the regressor share: every training setting, the loop, transform and files."""

    _task = ""

    def __init__(self, hidden=(100,), activation="relu", *, output=None, loss=None, reduction="mean", init=None,
                 optimizer="adam", lr=1e-3, momentum=None, weight_decay=0.0, schedule="constant", step_size=10,
                 gamma=0.1, epochs=200, batch_size=200, early_stopping=0, validation_fraction=0.1,
                 random_state=None, dtype="float64", transform_layer=-1):
        self.hidden = hidden
        self.activation = activation
        self.output = output
        self.loss = loss
        self.reduction = reduction
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.step_size = step_size
        self.gamma = gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.dtype = dtype
        self.transform_layer = transform_layer

    # ---- tags ----
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False  # the same random_state gives the same weights bit for bit
        return tags

    # ---- settings → network ----
    def _hidden(self) -> list[int]:
        hidden = [self.hidden] if isinstance(self.hidden, (int, np.integer)) else list(self.hidden)
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in hidden):
            raise DeltapropError(f"hidden must list layer sizes ≥ 1, e.g. (64, 32), got {self.hidden!r}")
        return [int(n) for n in hidden]

    def _check_settings(self) -> None:
        for name in ("epochs", "batch_size", "step_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise DeltapropError(f"{name} must be an integer ≥ 1, got {v!r}")
        es = self.early_stopping
        if isinstance(es, bool) or not isinstance(es, (int, np.integer)) or es < 0:
            raise DeltapropError(f"early_stopping is a patience in epochs (0: off), got {es!r}")
        if not (isinstance(self.validation_fraction, (int, float)) and 0 < self.validation_fraction < 1):
            raise DeltapropError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.dtype not in ("float32", "float64"):
            raise DeltapropError(f"dtype must be float32 or float64, got {self.dtype!r}")

    def _defaults(self) -> dict:
        raise NotImplementedError

    def _network(self, n_in: int, n_out: int, seed) -> Network:
        hidden = self._hidden()
        d = self._defaults()
        acts = self.activation
        if isinstance(acts, (list, tuple)):
            if len(acts) != len(hidden):
                raise DeltapropError(f"{len(hidden)} hidden layers need {len(hidden)} activations, got {len(acts)}")
            acts = list(acts)
        else:
            acts = [acts] * len(hidden)
        first = acts[0] if acts else "identity"
        init = self.init or ("he" if first in ("relu", "leaky_relu") else "glorot")
        return Network([n_in, *hidden, n_out], [*acts, self.output or d["output"]], self.loss or d["loss"],
                       reduction=self.reduction, init=init, seed=seed, dtype=self.dtype)

    def _optimizer(self) -> optim.Optimizer:
        kw = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.momentum is not None:
            kw["momentum"] = self.momentum
        return optim.make(self.optimizer, **kw)

    # ---- fitting ----
    def _targets(self, y, first: bool, classes=None) -> Array:
        raise NotImplementedError

    def fit(self, X, y, sample_weight=None):
        """Train from scratch on X (N, n_features) and y; ``sample_weight`` (N,) weighs each sample's loss."""
        self._check_settings()
        X, y = self._validate(X, y, reset=True)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        T = self._targets(y, first=True)
        seed = self._seed()
        split_rng, init_rng, self._shuffle_rng = streams(seed)  # as dp.fit: split, weights, shuffling
        # the split as dp.fit makes it (the training rows in the order of the split's permutation), so that
        # random_state=k gives dp.fit(seed=k)'s weights
        N = X.shape[0]
        labels = np.argmax(T, axis=1) if self._task == "classification" else None  # stratified, as dp.fit
        i_tr, i_va, _ = data_mod.split(N, self.validation_fraction if self.early_stopping else 0.0, 0.0, split_rng,
                                       labels=labels)
        val = None
        if self.early_stopping:
            if len(i_va) < 1:
                raise DeltapropError(f"early stopping needs a validation split: {N} samples at validation_fraction "
                                     f"{self.validation_fraction} leave none")
            val = (X[i_va], T[i_va], None if w is None else w[i_va])
        X, T, w = X[i_tr], T[i_tr], None if w is None else w[i_tr]
        self._init_model(X, T, w, init_rng)
        self._opt = self._optimizer()
        self.loss_curve_, self.validation_loss_curve_, self.validation_scores_ = [], [], []
        self.n_iter_, self.best_epoch_ = 0, 0
        # the training loop's BLAS thread policy, set once per fit (setting it costs milliseconds)
        with kernels.threads_for(self._net.sizes, min(self.batch_size, X.shape[0])):
            self._fit_epochs(X, T, w, val)
        return self

    def _fit_epochs(self, X: Array, T: Array, w: Array | None, val) -> None:
        best_loss, best, bad = math.inf, None, 0
        for _ in range(self.epochs):
            self._epoch(X, T, w)
            if val is not None:
                v_loss = self._cost(*val)
                self.validation_loss_curve_.append(v_loss)
                self.validation_scores_.append(self._val_score(*val))
                if v_loss < best_loss:
                    best_loss, best, bad, self.best_epoch_ = v_loss, [p.copy() for p in self._net.params()], 0, \
                        self.n_iter_
                else:
                    bad += 1
                    if bad >= self.early_stopping:
                        break
        if best is not None:
            for p, b in zip(self._net.params(), best):
                p[...] = b

    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """One epoch over (X, y), continuing from the current weights (the first call builds the network and
        takes its standardization from this first chunk)."""
        first = not hasattr(self, "model_")
        if first:
            self._check_settings()
        X, y = self._validate(X, y, reset=first)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        T = self._targets(y, first=first, classes=kwargs.get("classes"))
        if first:
            seed = self._seed()
            _, init_rng, self._shuffle_rng = streams(seed)
            self._init_model(X, T, w, init_rng)
            self._opt = self._optimizer()
            self.loss_curve_, self.validation_loss_curve_, self.validation_scores_ = [], [], []
            self.n_iter_, self.best_epoch_ = 0, 0
        with kernels.threads_for(self._net.sizes, min(self.batch_size, X.shape[0])):
            self._epoch(X, T, w)
        return self

    def _seed(self) -> int:
        """An integer random_state is the seed itself (so random_state=k trains as dp.fit(seed=k)); None or a
        RandomState draws one."""
        rs = self.random_state
        if isinstance(rs, (int, np.integer)) and not isinstance(rs, bool) and rs >= 0:
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _validate(self, X, y, reset: bool):
        multi = self._task == "regression"
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, multi_output=multi, y_numeric=multi)
        if X.shape[0] < 1:
            raise ValueError("deltaprop needs at least one sample to train on")
        return X, y

    def _init_model(self, X: Array, T: Array, w: Array | None, init_rng) -> None:
        x_mean, x_scale = _standardizer(X, w)
        net = self._network(X.shape[1], T.shape[1], init_rng)
        t_mean = t_scale = None
        if self._task == "regression":
            t_mean, t_scale = _standardizer(T, w)
            if net.loss.name not in loss_mod.REAL_TARGETS:  # a shift would leave the loss's domain
                t_mean, t_scale = np.zeros_like(t_mean), np.ones_like(t_scale)
        classes = [str(c) for c in self.classes_] if self._task == "classification" else None
        names = [str(n) for n in self.feature_names_in_] if hasattr(self, "feature_names_in_") else None
        self.model_ = Model(net, self._task, x_mean, x_scale, t_mean, t_scale, classes, names)
        self._check_targets(T)

    def _check_targets(self, T: Array) -> None:
        self._net.loss.check_targets(T, "y")

    @property
    def _net(self) -> Network:
        return self.model_.net

    def _units(self, X: Array, T: Array) -> tuple[Array, Array]:
        return np.ascontiguousarray(self.model_.inputs(X)), np.ascontiguousarray(self.model_.targets(T))

    def _epoch(self, X: Array, T: Array, w: Array | None) -> None:
        """One pass over the rows in a fresh seeded order, one optimizer step per mini-batch."""
        net, opt = self._net, self._opt
        Xs, Ts = self._units(X, T)
        N = Xs.shape[0]
        B = min(self.batch_size, N)
        # the schedule is made anew each epoch: a closure, which would keep a fitted estimator from pickling
        factor = optim.schedule(self.schedule, epochs=self.epochs, step_size=self.step_size,
                                gamma=self.gamma)(self.n_iter_)
        perm = self._shuffle_rng.permutation(N)
        total, seen = 0.0, 0.0

        def finite(grads, cost=None) -> None:  # before any parameter changes
            cost = float(grads.cost) if cost is None else cost
            if not math.isfinite(cost) or not all(np.all(np.isfinite(g)) for g in grads.b):
                raise DeltapropError(f"training diverged in epoch {self.n_iter_ + 1}: the loss or a gradient is "
                                     f"NaN or Inf; try a smaller learning rate (lr={self.lr / 10:g})")

        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, N, B):
                idx = perm[start:start + B]
                trace = net.forward(Xs[idx])
                if w is None:  # the training loop's step: the optimizer runs backward and its update
                    grads = opt.minimize(net, trace, Ts[idx], lr_factor=factor, check=finite)
                    cost, weight = float(grads.cost), idx.shape[0]
                else:  # the weighted gradients from the per-sample δ, then the optimizer's update
                    grads = net.backward(trace, Ts[idx], input_grad=False)
                    cost, weight = _weighted(net, trace, grads, Ts[idx], w[idx])
                    finite(grads, cost)
                    opt.step(net.params(), grads.params(), factor)
                total += cost * weight
                seen += weight
        self.n_iter_ += 1
        self.loss_curve_.append(total / seen if seen else float("nan"))

    def _cost(self, X: Array, T: Array, w: Array | None) -> float:
        """The cost of (X, T) as trained (network units), weighted by w if given."""
        net = self._net
        Xs, Ts = self._units(X, T)
        c = net.cost_per_sample(net.forward(Xs), Ts).astype(np.float64)
        w = np.ones_like(c) if w is None else w
        return float(np.dot(w, c) / (w.sum() if net.reduction == "mean" else 1.0))

    def _val_score(self, X: Array, T: Array, w: Array | None) -> float:
        raise NotImplementedError

    # ---- using the model ----
    def _output(self, X) -> Array:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.output(X)

    def transform(self, X, layer: int | None = None) -> Array:
        """The activations a of a hidden layer (N, its size): ``layer`` 1 … L−1, or −1 for the last hidden
        layer (default ``transform_layer``)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        l = self._layer(self.transform_layer if layer is None else layer)
        return self._net.forward(self.model_.inputs(X)).a[l - 1].astype(np.float64)

    def _layer(self, layer) -> int:
        L = self._net.L
        if L < 2:
            raise DeltapropError("transform gives a hidden layer's activations, and this network has none")
        l = L - 1 if layer == -1 else layer
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= L - 1:
            raise DeltapropError(f"transform: layer must be a hidden layer 1 … {L - 1} or -1, got {layer!r}")
        return int(l)

    def get_feature_names_out(self, input_features=None) -> Array:
        check_is_fitted(self, "model_")
        l = self._layer(self.transform_layer)
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}_a{l}_{j + 1}" for j in range(self._net.sizes[l])], dtype=object)

    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y, **fit_params).transform(X)

    def save(self, path: str | Path) -> Path:
        """The fitted model as deltaprop's safe model file (``.npz``, or ``.safetensors``): what
        ``dp.load_model``, ``deltaprop trace``, ``evaluate``, ``predict`` and ``export`` read."""
        from . import exchange

        check_is_fitted(self, "model_")
        path = Path(path)
        if path.suffix == ".safetensors":
            return exchange.export(self.model_, path, "safetensors")
        exchange.check_model_file_ready(self.model_)
        self.model_.save(path)
        return path

    @classmethod
    def from_model(cls, model, **params):
        """A fitted estimator around a trained model (``dp.load_model(path)``, ``run.model``), its settings read
        from the network; ``params`` set the others (they matter to further ``partial_fit`` calls). A
        classifier's ``classes_`` are the model's class names (strings)."""
        if isinstance(model, (str, Path)):
            model = load_model(model)
        if not isinstance(model, Model) or model.task != cls._task:
            raise DeltapropError(f"{cls.__name__}.from_model needs a {cls._task} model, got "
                                 f"{getattr(model, 'task', type(model).__name__)}")
        net = model.net
        est = cls(**{"hidden": tuple(net.sizes[1:-1]), "activation": [g.name for g in net.activations[:-1]],
                     "output": net.activations[-1].name, "loss": net.loss.name, "reduction": net.reduction,
                     "dtype": net.dtype.name, **params})
        est.model_ = model
        est.n_features_in_ = net.sizes[0]
        if model.feature_names is not None:
            est.feature_names_in_ = np.asarray(model.feature_names, dtype=object)
        if cls._task == "classification":
            est.classes_ = np.asarray(model.classes)
        else:
            est._y_ndim = 1 if net.sizes[-1] == 1 else 2
        est._opt = est._optimizer()
        est._shuffle_rng = np.random.default_rng(check_random_state(est.random_state).randint(2**31 - 1))
        est.loss_curve_, est.validation_loss_curve_, est.validation_scores_ = [], [], []
        est.n_iter_, est.best_epoch_ = 0, 0
        return est

    # ---- pickling: formula activations hold compiled functions; keep their text and compile them anew ----
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        model = state.get("model_")
        if model is not None:
            net = model.net
            spec = {"sizes": net.sizes, "activations": [g.name for g in net.activations], "loss": net.loss.name,
                    "loss_params": net.loss.params, "reduction": net.reduction, "dtype": net.dtype.name,
                    "params": [p.copy() for p in net.params()]}
            state["model_"] = (spec, {k: v for k, v in model.__dict__.items() if k != "net"})
        return state

    def __setstate__(self, state):
        model = state.get("model_")
        if isinstance(model, tuple):
            spec, fields = model
            net = Network(spec["sizes"], spec["activations"], spec["loss"], reduction=spec["reduction"],
                          dtype=spec["dtype"], loss_params=spec["loss_params"])
            for p, v in zip(net.params(), spec["params"]):
                p[...] = v
            m = object.__new__(Model)
            m.__dict__.update(fields, net=net)
            state = {**state, "model_": m}
        self.__dict__.update(state)


def _standardizer(X: Array, w: Array | None) -> tuple[Array, Array]:
    """(mean, scale) per column, weighted by w if given; a constant column gets scale 1."""
    if w is None:
        return data_mod.standardizer(X)
    mean = np.average(X, axis=0, weights=w)
    scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    scale[scale == 0] = 1.0
    return mean, scale


def _weighted(net: Network, trace, grads, T: Array, w: Array) -> tuple[float, float]:
    """Replace grads.W, grads.b by those of C = s Σₙ wₙ cₙ (s = 1/Σw, or 1 for a sum) from the per-sample δ
    that ``backward`` left in ``grads.delta``; gives (C, Σw)."""
    total = float(w.sum())
    s = 1.0 / total if net.reduction == "mean" else 1.0
    ws = (w * s).astype(grads.delta[0].dtype)
    for l in range(net.L):
        a_prev = trace.X if l == 0 else trace.a[l - 1]
        wd = grads.delta[l] * ws[:, None]  # s wₙ δₙ
        np.matmul(wd.T, a_prev, out=grads.W[l])
        np.sum(wd, axis=0, out=grads.b[l])
    c = net.cost_per_sample(trace, T).astype(np.float64)
    return float(np.dot(ws.astype(np.float64), c)), total


class DeltapropClassifier(ClassifierMixin, _DeltapropEstimator):
    """A feed-forward classifier trained by backpropagation: softmax outputs and cross-entropy by default
    (the canonical pair, δᴸ = a − t).

    Parameters are the training settings of :class:`deltaprop.TrainConfig` (``hidden``, ``activation`` — a name
    or formula in z, or one per hidden layer —, ``output``, ``loss``, ``reduction``, ``init``, ``optimizer``,
    ``lr``, ``momentum``, ``weight_decay``, ``schedule``/``step_size``/``gamma``, ``epochs``, ``batch_size``,
    ``early_stopping`` (patience in epochs on a ``validation_fraction`` split; 0: off), ``random_state``,
    ``dtype``), and ``transform_layer`` for :meth:`transform`.

    Attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_``, ``loss_curve_`` (mean training loss per
    epoch), ``validation_loss_curve_`` and ``validation_scores_`` (accuracy; with early stopping),
    ``best_epoch_``, ``n_iter_`` (epochs run), ``model_`` (a :class:`deltaprop.Model`).
    """

    _task = "classification"

    def _defaults(self) -> dict:
        return {"output": "softmax", "loss": "cross_entropy"}

    def _targets(self, y, first: bool, classes=None) -> Array:
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.asarray(classes)
            if classes is not None and not np.all(np.isin(np.unique(y), labels)):
                raise ValueError(f"y holds labels not in classes={list(labels)}")
            if labels.shape[0] < 2:
                raise ValueError(f"a classifier needs at least two classes to tell apart; y has one class "
                                 f"({labels[0]!r})")
            self.classes_ = labels
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            raise ValueError(f"y holds labels the classifier was not fitted on (classes_ = {list(self.classes_)})")
        return np.eye(len(self.classes_))[idx]

    def _val_score(self, X, T, w) -> float:
        pred = np.argmax(self.model_.output(X), axis=1)
        return float(np.average(pred == np.argmax(T, axis=1), weights=w))

    def predict_proba(self, X) -> Array:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        return self._output(X)

    def predict_log_proba(self, X) -> Array:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> Array:
        proba = self._output(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y); the first call needs ``classes`` (all labels that will ever be seen) unless
        y already holds them all."""
        return super().partial_fit(X, y, sample_weight=sample_weight, classes=classes)


class DeltapropRegressor(RegressorMixin, _DeltapropEstimator):
    """A feed-forward regressor trained by backpropagation: identity outputs and the quadratic loss by default
    (δᴸ = a − t); targets are standardized for training and predictions given back in their units.

    Parameters and attributes as :class:`DeltapropClassifier` (``validation_scores_`` holds R²); y may be
    (N,) or (N, n_outputs).
    """

    _task = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _defaults(self) -> dict:
        return {"output": "identity", "loss": "quadratic"}

    def _targets(self, y, first: bool, classes=None) -> Array:
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._y_ndim = y.ndim
        elif y.ndim != self._y_ndim or (y.ndim == 2 and y.shape[1] != self._net.sizes[-1]):
            raise ValueError(f"y has shape {y.shape}; the regressor was fitted on y of {self._y_ndim} dimension(s)")
        return y[:, None] if y.ndim == 1 else y

    def _val_score(self, X, T, w) -> float:
        from sklearn.metrics import r2_score

        return float(r2_score(T, self.model_.output(X), sample_weight=w))

    def predict(self, X) -> Array:
        out = self._output(X)
        return out[:, 0] if self._y_ndim == 1 else out
