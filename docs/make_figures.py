"""Renders the figures of docs/data.md into docs/img/:  python docs/make_figures.py

Each figure comes from the public functions of deltaprop.view.plots (Figures made without pyplot).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import deltaprop as dp
from deltaprop.data import Dataset, one_hot
from deltaprop.view import plots

OUT = Path(__file__).parent / "img"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    # two classes: the Playground's circle with noise 0.3 (the "both classes look black")
    run = dp.fit("circle", noise=0.3, seed=0)
    X, T = dp.load_data("circle", noise=0.3).X, dp.load_data("circle", noise=0.3).T
    tr = run.split["train"]
    plots.decision_regions(run.model, X[tr], T[tr], "circle, noise 0.3: decision regions").savefig(
        OUT / "regions_2_classes.png", dpi=100)
    # three classes with named columns: iris, petal length and width
    iris = dp.load_data("iris")
    names = ["petal length (cm)", "petal width (cm)"]
    ds = Dataset("iris-petals", iris.X[:, 2:4], iris.T, "classification", classes=iris.classes, feature_names=names)
    run = dp.fit(ds, hidden=[16], activation="tanh", lr=0.01, epochs=200, batch_size=16, seed=0)
    tr = run.split["train"]
    plots.decision_regions(run.model, ds.X[tr], ds.T[tr], "iris petals: decision regions").savefig(
        OUT / "regions_3_classes.png", dpi=100)
    # learning curves of a run that stopped early: breast_cancer's recipe
    run = dp.fit("breast_cancer", seed=0)
    best = run.metrics.get("best_epoch") if run.metrics.get("stopped_early") else None
    plots.learning_curves(run.history, run.model, best_epoch=best).savefig(
        OUT / "curves_early_stopping.png", dpi=100)
    # confusion matrix: digits, the run's own test rows
    digits = dp.load_data("digits")
    run = dp.fit("digits", seed=0)
    te = run.split["test"]
    plots.evaluation_figure(run.model, digits.X[te], digits.T[te]).savefig(OUT / "confusion_digits.png", dpi=100)
    # predicted against true: diabetes, the run's test rows
    diabetes = dp.load_data("diabetes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = dp.fit("diabetes", seed=0)
    te = run.split["test"]
    plots.evaluation_figure(run.model, diabetes.X[te], diabetes.T[te]).savefig(
        OUT / "predicted_vs_true_diabetes.png", dpi=100)
    print("\n".join(sorted(p.name for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
