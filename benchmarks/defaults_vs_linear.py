"""Each built-in data set's default recipe against a linear model on the same split.

    python benchmarks/defaults_vs_linear.py [--seeds 0,1,2] [NAME ...]

For every seed, ``dp.fit(name, seed=seed)`` trains with the set's defaults; scikit-learn's linear model
(LogisticRegression for classes, LinearRegression for values) is fitted to exactly the same training rows
(``run.split["train"]``, standardized with the training statistics) and both are scored on the same test rows.
Prints test accuracy (higher is better) or test MSE (lower is better), per seed and their median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings

import numpy as np

import deltaprop as dp
from deltaprop.data import builtin


def linear_score(ds, split) -> float:
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tr, te = split["train"], split["test"]
    if ds.task == "classification":
        m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(ds.X[tr], ds.labels[tr])
        return float(np.mean(m.predict(ds.X[te]) == ds.labels[te]))
    m = make_pipeline(StandardScaler(), LinearRegression()).fit(ds.X[tr], ds.T[tr])
    return float(np.mean((m.predict(ds.X[te]) - ds.T[te]) ** 2))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(builtin.BUILTIN))
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'data':15} {'metric':9} {'deltaprop default':>22} {'linear model':>22}   seeds {args.seeds}")
    for name in args.names:
        ds = dp.load_data(name)
        ours, lin = [], []
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = dp.fit(name, seed=seed)
            metric = "test_accuracy" if ds.task == "classification" else "test_mse"
            ours.append(run.metrics[metric])
            lin.append(linear_score(ds, run.split))
        fmt = (lambda v: f"{100 * v:.2f} %") if ds.task == "classification" else (lambda v: f"{v:.0f}")
        med = lambda xs: fmt(statistics.median(xs))
        spread = lambda xs: f"[{fmt(min(xs))}–{fmt(max(xs))}]"
        print(f"{name:15} {'accuracy' if ds.task == 'classification' else 'MSE':9} "
              f"{med(ours):>9} {spread(ours):>12} {med(lin):>9} {spread(lin):>12}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
