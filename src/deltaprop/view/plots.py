"""Figures of a run: learning curves; for 1-D regression the fit as in Bishop's figure 5.3; for 2-D
classification the decision regions, as in the TensorFlow Playground.

Every function returns a :class:`matplotlib.figure.Figure` built with matplotlib's object API: none of them
selects a backend or touches pyplot's state, so a notebook's inline figures (and a later ``plt.show()``) keep
working. Jupyter shows a returned Figure; ``fig.savefig(path)`` writes it.

Bishop's figure shows the data (dots), the network's y(x) (full line) and the hidden units (dashed). Here each
dashed curve is one unit's *contribution* to y, w_j a_j(x) in the target's units, so the dashed curves plus
the output bias add up to the full line exactly (for a network whose last hidden layer feeds an identity
output).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Array = np.ndarray


def _figure(**kw):
    from matplotlib.figure import Figure  # not pyplot: no backend is chosen, no global figure list is kept

    return Figure(**kw)


def hidden_contributions(model, x: Array) -> tuple[Array, Array]:
    """For inputs x (M, 1): y (M,) and the contributions (M, H) of the last hidden layer's units to it."""
    net = model.net
    trace = net.forward(model.inputs(x))
    a_hidden = trace.a[-2].astype(np.float64)  # (M, H)
    w = net.W[-1][0].astype(np.float64)  # (H,) weights into the single output
    scale = model.t_scale[0] if model.task == "regression" else 1.0
    y = model.output(x)[:, 0]
    return y, a_hidden * w * scale


def learning_curves(history: list[dict], model):
    """The learning curves of a run (train and validation loss per epoch, the validation metric): a Figure."""
    return run_figure(None, history, model, None)


def run_figure(path: str | Path | None, history: list[dict], model, prep):
    """curves.png: learning curves, plus the fit (1-D regression) or decision regions (2-D classification)
    when ``prep`` (the run's data) is given; written to ``path`` if given; the Figure is returned."""
    net = model.net
    one_d = (prep is not None and model.task == "regression" and net.sizes[0] == 1 and net.sizes[-1] == 1
             and net.L >= 2 and net.activations[-1].name == "identity")
    two_d = prep is not None and model.task == "classification" and net.sizes[0] == 2
    from ..training.model import metric_name

    metric = metric_name(model.task)
    has_val = any(f"val_{metric}" in r for r in history)
    n = 1 + has_val + (one_d or two_d)
    fig = _figure(figsize=(5 * n, 4))
    axes = fig.subplots(1, n, squeeze=False)
    axes = list(axes[0])
    epochs = [r["epoch"] for r in history]

    ax = axes.pop(0)
    ax.plot(epochs, [r["train_loss"] for r in history], label="train (mean over the epoch)")
    if has_val:
        ax.plot(epochs, [r.get("val_loss") for r in history], label="validation")
    if all((r["train_loss"] or 0) > 0 for r in history):
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=f"loss ({net.loss.name})", title="learning curves")
    ax.legend()
    if has_val:
        ax = axes.pop(0)
        ax.plot(epochs, [r.get(f"val_{metric}") for r in history], color="C1")
        ax.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric}")
    if one_d:
        _fit_panel(axes.pop(0), model, prep)
    elif two_d:
        _regions_panel(axes.pop(0), model, prep)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _fit_panel(ax, model, prep) -> None:
    X, T = prep.raw["train"]
    lo, hi = float(X.min()), float(X.max())
    x = np.linspace(lo, hi, 300)[:, None]  # only where there is training data, as in the notes' figure
    y, parts = hidden_contributions(model, x)
    ax.plot(X[:, 0], T[:, 0], "o", color="C0", ms=4, label="data")
    ax.plot(x[:, 0], y, "-", color="C3", lw=2, label="network y(x)")
    for j in range(parts.shape[1]):
        ax.plot(x[:, 0], parts[:, j], "--", lw=1, label=f"hidden unit {j + 1}" if parts.shape[1] <= 8 else None)
    ax.set(xlabel="x", ylabel="t", title=f"{prep.dataset.name}: fit and hidden-unit contributions")
    ax.legend(fontsize="small")


def _regions_panel(ax, model, prep) -> None:
    X, T = prep.raw["train"]
    pad = 0.5
    x1 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 200)
    x2 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 200)
    g1, g2 = np.meshgrid(x1, x2)
    P = model.output(np.column_stack([g1.ravel(), g2.ravel()]))
    K = P.shape[1]
    if K == 2:  # the Playground's view: the probability of the second class, a smooth colour scale
        ax.contourf(g1, g2, P[:, 1].reshape(g1.shape), levels=20, cmap="RdBu", alpha=0.6, vmin=0, vmax=1)
    else:
        ax.contourf(g1, g2, P.argmax(axis=1).reshape(g1.shape), levels=np.arange(K + 1) - 0.5, cmap="tab10",
                    alpha=0.4)
    labels = T.argmax(axis=1)
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="RdBu" if K == 2 else "tab10", edgecolors="k", s=14)
    ax.set(xlabel="x1", ylabel="x2", title=f"{prep.dataset.name}: decision regions")
