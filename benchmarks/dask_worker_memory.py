"""What one Dask worker costs in memory when it runs deltaprop's estimators (docs/interop.md quotes it).

    python benchmarks/dask_worker_memory.py [--workers 2]

Starts a distributed.LocalCluster (worker processes on 127.0.0.1), reads each worker's resident set size
(psutil) when it has started, after it has imported deltaprop and scikit-learn, and after a GridSearchCV of
DeltapropClassifier on digits under joblib's dask backend; prints the median over the workers and the range.
"""

import argparse
import statistics


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def warm() -> float:
    import deltaprop.sklearn  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    return rss_mb()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import distributed
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from deltaprop.sklearn import DeltapropClassifier

    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        started = list(client.run(rss_mb).values())
        imported = list(client.run(warm).values())
        X, y = load_digits(return_X_y=True)
        grid = GridSearchCV(DeltapropClassifier(epochs=20, random_state=0),
                            {"hidden": [(64,), (256,)], "lr": [1e-3, 3e-3]}, cv=3, n_jobs=-1)
        with joblib.parallel_backend("dask"):
            grid.fit(X, y)
        after = list(client.run(rss_mb).values())
    for what, v in (("started", started), ("deltaprop + sklearn imported", imported),
                    ("after GridSearchCV on digits (12 fits, 1797×64)", after)):
        print(f"worker RSS {what:>48}: median {statistics.median(v):6.0f} MiB  (range {min(v):.0f}–{max(v):.0f}, "
              f"{len(v)} workers)")
    print(f"best: {grid.best_params_}  score {grid.best_score_:.3f}")


if __name__ == "__main__":
    main()
