"""Train mode of the playground page: a layered network on the Playground's 2-D sets, trained epoch by epoch
with deltaprop's optimizers; :meth:`TrainSession.frame` is what one view update sends.
"""

from __future__ import annotations

import time

import numpy as np

from ...engine.layered import Network
from ...errors import DeltapropError
from ...training import optim
from . import data2d
from .state import InspectState, clean, layered_to_graph_doc, parse_number

FEATURES = {  # the Playground's input features, each a function of (x1, x2)
    "x1": lambda x1, x2: x1, "x2": lambda x1, x2: x2, "x1sq": lambda x1, x2: x1 * x1,
    "x2sq": lambda x1, x2: x2 * x2, "x1x2": lambda x1, x2: x1 * x2,
    "sinx1": lambda x1, x2: np.sin(x1), "sinx2": lambda x1, x2: np.sin(x2),
}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
OPTIMIZERS = ("sgd", "momentum", "adam")
GRID = 50  # the heatmap is GRID × GRID over the data's square
DOMAIN = 6.0  # the Playground's square [−6, 6]²
MAX_LAYERS, MAX_WIDTH = 6, 8
MAX_POINTS = 5000
HISTORY = 2000  # epochs of curves kept (older ones are thinned)

DEFAULTS = {"dataset": "circle", "noise": 0.0, "train_ratio": 0.5, "features": ["x1", "x2"], "hidden": [4, 2],
            "activation": "tanh", "lr": 0.03, "optimizer": "sgd", "l2": 0.0, "batch_size": 10, "seed": 0}


def check_config(cfg: dict) -> dict:
    """The settings of a training run with every field checked (a clear message names the bad one)."""
    if not isinstance(cfg, dict):
        raise DeltapropError("settings must be an object")
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise DeltapropError(f"unknown setting(s) {sorted(unknown)}")
    c = {**DEFAULTS, **cfg}
    if c["dataset"] not in (*data2d.SETS, "csv"):
        raise DeltapropError(f"unknown data set {c['dataset']!r}; choose from {', '.join(data2d.SETS)}")
    c["noise"] = parse_number(c["noise"], "noise")
    if not 0 <= c["noise"] <= 0.5:
        raise DeltapropError(f"noise must be in 0 … 0.5, got {c['noise']:g}")
    c["train_ratio"] = parse_number(c["train_ratio"], "train ratio")
    if not 0.1 <= c["train_ratio"] <= 0.9:
        raise DeltapropError(f"train ratio must be in 0.1 … 0.9, got {c['train_ratio']:g}")
    if not isinstance(c["features"], list) or not c["features"] or any(f not in FEATURES for f in c["features"]):
        raise DeltapropError(f"features must be a non-empty list from {', '.join(FEATURES)}")
    c["features"] = [f for f in FEATURES if f in c["features"]]
    h = c["hidden"]
    if (not isinstance(h, list) or len(h) > MAX_LAYERS
            or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WIDTH for n in h)):
        raise DeltapropError(f"hidden layers: at most {MAX_LAYERS}, each of 1 … {MAX_WIDTH} neurons")
    if c["activation"] not in ACTIVATIONS:
        raise DeltapropError(f"activation must be one of {', '.join(ACTIVATIONS)}")
    c["lr"] = parse_number(c["lr"], "learning rate")
    if not 0 < c["lr"] <= 10:
        raise DeltapropError(f"learning rate must be in (0, 10], got {c['lr']:g}")
    if c["optimizer"] not in OPTIMIZERS:
        raise DeltapropError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    c["l2"] = parse_number(c["l2"], "L2 regularisation")
    if not 0 <= c["l2"] <= 1:
        raise DeltapropError(f"L2 regularisation must be in 0 … 1, got {c['l2']:g}")
    b = c["batch_size"]
    if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 500:
        raise DeltapropError(f"batch size must be a whole number in 1 … 500, got {b!r}")
    if isinstance(c["seed"], bool) or not isinstance(c["seed"], int) or c["seed"] < 0:
        raise DeltapropError(f"seed must be a whole number ≥ 0, got {c['seed']!r}")
    return c


class TrainSession:
    """A layered network [features, *hidden, 1] trained on a 2-D set, one epoch (a pass in mini-batches) at a
    time: classification with a sigmoid output and binary cross-entropy (t ∈ {0, 1}), regression with an
    identity output and the quadratic loss. L2 regularisation is the optimizer's weight decay, g ← g + λθ."""

    def __init__(self, config: dict | None = None, points: tuple | None = None):
        self.config = check_config(config or {})
        self.custom = points  # (P (n, 2), y (n,), task) from a CSV, or None
        self.hover: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        c = self.config
        rng = np.random.default_rng(c["seed"])
        if c["dataset"] == "csv":
            if self.custom is None:
                raise DeltapropError("no CSV loaded: open a CSV of x1, x2, label first")
            P, y, task = self.custom
        else:
            P, y, task = data2d.make(c["dataset"], noise=c["noise"], seed=c["seed"])
        order = rng.permutation(len(P))
        n_train = max(1, min(len(P) - 1, int(round(c["train_ratio"] * len(P)))))
        self.task = task
        self.P_train, self.y_train = P[order[:n_train]], y[order[:n_train]]
        self.P_test, self.y_test = P[order[n_train:]], y[order[n_train:]]
        self.X_train, self.X_test = self.features(self.P_train), self.features(self.P_test)
        self.scale = max(DOMAIN, float(np.abs(P).max()) * 1.05) if len(P) else DOMAIN
        g = np.linspace(-self.scale, self.scale, GRID)
        gx, gy = np.meshgrid(g, g[::-1])  # row 0 at the top: x2 = +scale
        self.grid_P = np.column_stack([gx.ravel(), gy.ravel()])
        self.grid_X = self.features(self.grid_P)
        classify = task == "classification"
        sizes = [len(c["features"]), *c["hidden"], 1]
        self.net = Network(sizes, c["activation"], "binary_cross_entropy" if classify else "quadratic",
                           output="sigmoid" if classify else "identity", init="glorot", seed=c["seed"])
        name = "momentum" if c["optimizer"] == "momentum" else c["optimizer"]
        self.opt = optim.make(name, lr=c["lr"], weight_decay=c["l2"])
        self.rng = rng
        self.epoch = 0
        self.history: dict[str, list] = {"epoch": [], "train": [], "test": [], "grad_norm": [], "mean_delta": []}
        self.last_batch = (self.X_train[:0], self.y_train[:0])
        self.last_grads = None
        self.sent = 0  # history entries already sent to the page
        self.record()

    def features(self, P: np.ndarray) -> np.ndarray:
        return np.column_stack([FEATURES[f](P[:, 0], P[:, 1]) for f in self.config["features"]])

    def loss(self, X, y) -> float:
        return float(self.net.cost(X, y[:, None])) if len(X) else float("nan")

    def run_epoch(self) -> None:
        """One pass over the training set in shuffled mini-batches: θ ← optimizer step on ∂C/∂θ of each."""
        n, B = len(self.X_train), self.config["batch_size"]
        order = self.rng.permutation(n)
        net, opt = self.net, self.opt
        for s in range(0, n, B):
            idx = order[s:s + B]
            Xb, Tb = self.X_train[idx], self.y_train[idx, None]
            grads = net.loss_and_grads(Xb, Tb)
            opt.step(net.params(), grads.params())
        self.last_batch, self.last_grads = (Xb, self.y_train[idx]), grads
        self.epoch += 1
        if not all(np.all(np.isfinite(p)) for p in net.params()):
            raise DeltapropError(f"the weights became NaN or Inf at epoch {self.epoch}: lower the learning rate, "
                                 "then reset")
        self.record()

    def record(self) -> None:
        """Losses, per-layer ‖∂C/∂W_l‖ and per-neuron mean |δ| (over the training set) after this epoch."""
        h = self.history
        grads = self.net.loss_and_grads(self.X_train, self.y_train[:, None])
        h["epoch"].append(self.epoch)
        h["train"].append(float(grads.cost))
        h["test"].append(self.loss(self.X_test, self.y_test))
        h["grad_norm"].append([float(np.linalg.norm(gW)) for gW in grads.W])
        h["mean_delta"].append([float(np.mean(np.abs(d))) for d in grads.delta])
        self.neuron_delta = [np.mean(np.abs(d), axis=0).tolist() for d in grads.delta]
        if len(h["epoch"]) > HISTORY:  # keep the start and every other epoch of the rest
            for k in h:
                h[k] = h[k][:1] + h[k][2::2]
            self.sent = 0  # the page's curves are replaced by the thinned ones

    def heatmap(self, neuron: tuple[int, int] | None = None) -> np.ndarray:
        """The output (or neuron (layer, j)'s activity) over the GRID × GRID square, row 0 at the top."""
        trace = self.net.forward(self.grid_X)
        if neuron is None:
            out = trace.a[-1][:, 0]
        else:
            l, j = neuron
            out = trace.a[l][:, j] if l < self.net.L and j < self.net.sizes[l + 1] else trace.a[-1][:, 0]
        return out.reshape(GRID, GRID)

    def points(self) -> dict:
        return clean({"train": np.column_stack([self.P_train, self.y_train]).round(4).tolist(),
                      "test": np.column_stack([self.P_test, self.y_test]).round(4).tolist(),
                      "scale": self.scale, "task": self.task, "sizes": self.net.sizes,
                      "features": self.config["features"], "config": self.config})

    def frame(self) -> dict:
        """One view update: the heatmap (and the hovered neuron's), the latest losses, per-neuron mean |δ|,
        and the curves' entries not sent before (``replace``: the page drops its own first)."""
        h = self.history
        hm = self.heatmap()
        start = self.sent
        out = {"type": "frame", "epoch": self.epoch, "train": h["train"][-1], "test": h["test"][-1],
               "heatmap": np.round(hm, 3).ravel().tolist(), "neuron_delta": self.neuron_delta,
               "grad_norm": h["grad_norm"][-1], "mean_delta": h["mean_delta"][-1], "replace": start == 0,
               "curves": {k: v[start:] for k, v in h.items()}}
        self.sent = len(h["epoch"])
        if self.hover is not None:
            out["hover"] = list(self.hover)
            out["hover_heatmap"] = np.round(self.heatmap(self.hover), 3).ravel().tolist()
        return clean(out)

    def inspect_state(self, max_samples: int = 16) -> InspectState:
        """The current network and (up to ``max_samples`` of) the last mini-batch, for inspect mode."""
        Xb, yb = self.last_batch
        if len(Xb) == 0:
            Xb, yb = self.X_train[:max_samples], self.y_train[:max_samples]
        Xb, yb = Xb[:max_samples], yb[:max_samples]
        loss = {"name": self.net.loss.name}
        doc = layered_to_graph_doc(self.net, loss)
        rename = {f"x{k + 1}": f for k, f in enumerate(self.config["features"])}  # ids: the feature names
        doc["inputs"] = [rename[i] for i in doc["inputs"]]
        for spec in doc["neurons"].values():
            spec["weights"] = {rename.get(i, i): w for i, w in spec["weights"].items()}
        return InspectState(doc, f"{self.config['dataset']} at epoch {self.epoch}", Xb, yb[:, None])


def timed_epochs(session: TrainSession, budget_s: float) -> int:
    """Epochs run until ``budget_s`` seconds have passed (at least one)."""
    t0, n = time.perf_counter(), 0
    while True:
        session.run_epoch()
        n += 1
        if time.perf_counter() - t0 >= budget_s:
            return n
