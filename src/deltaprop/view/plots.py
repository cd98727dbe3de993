"""Figures of a run and of an evaluation: learning curves (the early-stopping epoch marked); for 1-D regression
the fit as in Bishop's figure 5.3; for 2-D classification the decision regions, as in the TensorFlow Playground;
the confusion matrix of a classifier; predicted against true values for a regression.

Every public function returns a :class:`matplotlib.figure.Figure` made without pyplot, so nothing here selects
or changes the user's matplotlib backend (no ``matplotlib.use``): save it with ``fig.savefig(path)``, or let a
notebook show it.

Bishop's figure shows the data (dots), the network's y(x) (full line) and the hidden units (dashed). Here each
dashed curve is one unit's *contribution* to y, w_j a_j(x) in the target's units, so the dashed curves plus
the output bias add up to the full line exactly (for a network whose last hidden layer feeds an identity
output).

Colours: class k has colour ``class_colours(K)[k]`` everywhere (regions, points, legend, the confusion matrix's
labels), so a point of class k inside the region of class k has the region's colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Array = np.ndarray


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _fixed_panels(n: int, height: float = 4.2):
    """A Figure of n panels side by side with margins fixed in inches, for curves.png, which every ``train``
    draws: constrained layout measures every tick label of every axis to place the margins, and that was two
    thirds of the figure's drawing time (0.40 → 0.16 s of CPU for digits). The axis labels and titles are put
    at fixed places too (``_pin_labels``), so nothing is measured."""
    from matplotlib.figure import Figure

    width = 5.0 * n
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=1.2 / width, right=1 - 0.25 / width, bottom=0.6 / height, top=1 - 0.45 / height,
                        wspace=0.3)
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def _pin_labels(ax) -> None:
    """The axis labels and the title at fixed places (axes coordinates), clear of the widest tick labels
    (a log scale's "8 × 10⁻¹"), instead of placed by measuring every tick label."""
    ax.xaxis.set_label_coords(0.5, -0.1)
    ax.yaxis.set_label_coords(-0.2, 0.5)
    ax.set_title(ax.get_title(), y=1.0, pad=6)


def class_colours(K: int) -> list:
    """One colour per class: the Playground's orange and blue for two classes, matplotlib's tab10 (then tab20)
    beyond."""
    import matplotlib

    if K == 2:
        return ["#f59322", "#0877bd"]  # the Playground's −1 (orange) and +1 (blue)
    cmap = matplotlib.colormaps["tab10" if K <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(K)]


def hidden_contributions(model, x: Array) -> tuple[Array, Array]:
    """For inputs x (M, 1): y (M,) and the contributions (M, H) of the last hidden layer's units to it."""
    net = model.net
    trace = net.forward(model.inputs(x))
    a_hidden = trace.a[-2].astype(np.float64)  # (M, H)
    w = net.W[-1][0].astype(np.float64)  # (H,) weights into the single output
    scale = model.t_scale[0] if model.task == "regression" else 1.0
    y = model.output(x)[:, 0]
    return y, a_hidden * w * scale


# --- learning curves ---------------------------------------------------------------------------------------------


def curves_panels(axes, history: list[dict], metric: str, loss_name: str, best_epoch: int | None = None) -> None:
    """Loss per epoch (train, validation) on ``axes[0]`` and the validation metric on ``axes[1]`` if given;
    ``best_epoch`` (early stopping: the weights kept) is a dashed vertical line on both."""
    epochs = [r["epoch"] for r in history]
    ax = axes[0]
    ax.plot(epochs, [r["train_loss"] for r in history], color="C0", label="train (mean over the epoch)")
    has_val = any("val_loss" in r for r in history)
    if has_val:
        ax.plot(epochs, [r.get("val_loss") for r in history], color="C1", label="validation")
    if history and all((r["train_loss"] or 0) > 0 and (r.get("val_loss") or 1) > 0 for r in history):
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=f"loss ({loss_name})", title="learning curves")
    for a in axes:
        if best_epoch:
            a.axvline(best_epoch, color="k", ls="--", lw=1,
                      label=f"early stopping: epoch {best_epoch} kept" if a is ax else None)
    ax.legend(fontsize="small")
    if len(axes) > 1 and any(f"val_{metric}" in r for r in history):
        ax = axes[1]
        ax.plot(epochs, [r.get(f"val_{metric}") for r in history], color="C1")
        ax.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric}")


def learning_curves(history: list[dict], model=None, *, best_epoch: int | None = None, metric: str | None = None,
                    loss_name: str | None = None):
    """The learning curves of a run (its ``history``: one dict per epoch as in metrics.jsonl) as a Figure:
    train and validation loss, the validation metric, and ``best_epoch`` (early stopping: the weights kept)
    marked. The metric and the loss's name come from ``model`` when given."""
    from ..training.model import metric_name

    if metric is None:
        metric = metric_name(model.task) if model is not None else (
            "accuracy" if any("val_accuracy" in r for r in history) else "mse")
    if loss_name is None:
        loss_name = model.net.loss.name if model is not None else "loss"
    has_val = any(f"val_{metric}" in r for r in history)
    fig = _figure(5 * (1 + has_val), 4)
    axes = fig.subplots(1, 1 + has_val, squeeze=False)[0]
    curves_panels(list(axes), history, metric, loss_name, best_epoch)
    return fig


# --- decision regions, fit ---------------------------------------------------------------------------------------


def regions_panel(ax, model, X: Array, T: Array, title: str = "decision regions", resolution: int = 200) -> None:
    """The classes the model gives over the plane of its two inputs, and the points (X, T) on top, in the
    same colour per class; the axes named after the model's input columns; a legend of the classes."""
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.lines import Line2D

    span = X.max(axis=0) - X.min(axis=0)
    pad = 0.05 * np.where(span > 0, span, 1.0)
    g1, g2 = np.meshgrid(np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], resolution),
                         np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], resolution))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    rows = max(1, 2**22 // max(model.net.sizes))  # in chunks: 40 000 points × a wide layer would be gigabytes
    P = np.concatenate([model.output(grid[i:i + rows]) for i in range(0, len(grid), rows)])
    K = P.shape[1]
    colours = class_colours(K)
    if K == 2:  # the Playground's view: P(second class), from the first class's colour through white
        cmap = LinearSegmentedColormap.from_list("classes", [colours[0], "#ffffff", colours[1]])
        ax.contourf(g1, g2, P[:, 1].reshape(g1.shape), levels=np.linspace(0, 1, 21), cmap=cmap, alpha=0.55)
        ax.contour(g1, g2, P[:, 1].reshape(g1.shape), levels=[0.5], colors="k", linewidths=0.8)
    else:
        ax.contourf(g1, g2, P.argmax(axis=1).reshape(g1.shape), levels=np.arange(K + 1) - 0.5,
                    cmap=ListedColormap(colours), alpha=0.35)
    labels = T.argmax(axis=1)
    ax.scatter(X[:, 0], X[:, 1], c=[colours[k] for k in labels], edgecolors="white", linewidths=0.5, s=22)
    names = model.classes or [str(k) for k in range(K)]
    handles = [Line2D([], [], ls="", marker="o", markersize=7, markerfacecolor=colours[k], markeredgecolor="white",
                      label=names[k]) for k in range(K)]
    ax.legend(handles=handles, title="class", fontsize="small", loc="best", framealpha=0.8)
    fn = model.feature_names or ["x1", "x2"]
    ax.set(xlabel=fn[0], ylabel=fn[1], title=title)


def decision_regions(model, X, T, title: str = "decision regions"):
    """The decision regions of a model with two inputs over the points (X (N, 2), T (N, K) one-hot)."""
    fig = _figure(5.5, 4.5)
    regions_panel(fig.subplots(), model, np.asarray(X, float), np.asarray(T, float), title)
    return fig


def fit_panel(ax, model, X: Array, T: Array, title: str = "fit and hidden-unit contributions") -> None:
    lo, hi = float(X.min()), float(X.max())
    x = np.linspace(lo, hi, 300)[:, None]  # only where there is training data, as in the notes' figure
    y, parts = hidden_contributions(model, x)
    ax.plot(X[:, 0], T[:, 0], "o", color="C0", ms=4, label="data")
    ax.plot(x[:, 0], y, "-", color="C3", lw=2, label="network y(x)")
    for j in range(parts.shape[1]):
        ax.plot(x[:, 0], parts[:, j], "--", lw=1, label=f"hidden unit {j + 1}" if parts.shape[1] <= 8 else None)
    fn = model.feature_names or ["x"]
    tn = model.target_names or ["t"]
    ax.set(xlabel=fn[0], ylabel=tn[0], title=title)
    ax.legend(fontsize="small")


# --- evaluation figures ------------------------------------------------------------------------------------------


def confusion_matrix(confusion, classes: list[str], title: str = "confusion matrix"):
    """C[i][j], the samples of true class i predicted as j, as a Figure: counts written in the cells, each row
    shaded by its share of the true class (so a rare class's errors show as clearly as a common one's)."""
    C = np.asarray(confusion, dtype=np.int64)
    K = C.shape[0]
    share = C / np.maximum(C.sum(axis=1, keepdims=True), 1)
    side = min(2 + 0.6 * K, 12)
    fig = _figure(side + 1.5, side)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if K <= 30:
        for i in range(K):
            for j in range(K):
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize="small",
                        color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(K), classes, rotation=45 if max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(K), classes)
    ax.set(xlabel="predicted class", ylabel="true class", title=f"{title} (accuracy {np.trace(C) / C.sum():.1%})")
    fig.colorbar(im, ax=ax, label="share of the true class")
    return fig


def predicted_vs_true(y, t, names: list[str] | None = None, title: str = "predicted against true"):
    """Predicted y (N, m) against true t (N, m), one panel per output, with the line y = t and each output's
    R² = 1 − Σ(y − t)² / Σ(t − t̄)²."""
    y = np.asarray(y, float).reshape(len(y), -1)
    t = np.asarray(t, float).reshape(len(t), -1)
    m = y.shape[1]
    fig = _figure(4.5 * min(m, 4), 4.2)
    axes = fig.subplots(1, min(m, 4), squeeze=False)[0]
    for k, ax in enumerate(axes):
        lo, hi = float(min(y[:, k].min(), t[:, k].min())), float(max(y[:, k].max(), t[:, k].max()))
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, ls="--", label="y = t")
        ax.scatter(t[:, k], y[:, k], s=14, color="C0", alpha=0.7, edgecolors="none")
        ss = ((t[:, k] - t[:, k].mean()) ** 2).sum()
        r2 = 1 - ((y[:, k] - t[:, k]) ** 2).sum() / ss if ss > 0 else float("nan")
        name = names[k] if names and k < len(names) else f"output {k + 1}"
        ax.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title=f"{title}: R² = {r2:.3f}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize="small", loc="upper left")
    return fig


def evaluation_figure(model, X, T):
    """The confusion matrix (classification) or predicted against true (regression) of ``model`` on (X, T)."""
    from ..training import model as model_mod

    r = model_mod.evaluate(model, X, T)
    if model.task == "classification":
        return confusion_matrix(r["confusion"], r["classes"])
    return predicted_vs_true(model.predict(X), T, model.target_names)


# --- the run's figure --------------------------------------------------------------------------------------------


def run_figure(path: str | Path | None, history: list[dict], model, prep=None, metrics: dict | None = None):
    """curves.png: learning curves (the early-stopping epoch marked), plus, when ``prep`` (the run's data) is
    given, the fit (1-D regression) or decision regions (2-D classification) over the training split; saved to
    ``path`` if given, and returned."""
    net = model.net
    one_d = (prep is not None and model.task == "regression" and net.sizes[0] == 1 and net.sizes[-1] == 1
             and net.L >= 2 and net.activations[-1].name == "identity")
    two_d = prep is not None and model.task == "classification" and net.sizes[0] == 2
    from ..training.model import metric_name

    metric = metric_name(model.task)
    has_val = any(f"val_{metric}" in r for r in history)
    n = 1 + has_val + (one_d or two_d)
    fig, axes = _fixed_panels(n)
    best = metrics.get("best_epoch") if metrics and metrics.get("stopped_early") else None
    curves_panels(axes[:1 + has_val], history, metric, net.loss.name, best)
    if one_d or two_d:
        X, T = prep.raw["train"]
        if one_d:
            fit_panel(axes[-1], model, X, T, f"{prep.dataset.name}: fit and hidden-unit contributions")
        else:
            regions_panel(axes[-1], model, X, T, f"{prep.dataset.name}: decision regions (training points)")
    for ax in axes:
        _pin_labels(ax)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
