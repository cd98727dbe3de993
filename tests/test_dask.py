"""Hyper-parameter search over deltaprop estimators on Dask: a LocalCluster of two worker processes on the
loopback interface gives exactly the serial search's results."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask")

import joblib  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from deltaprop.sklearn import DeltapropClassifier  # noqa: E402

GRID = {"hidden": [(4,), (8,)], "lr": [0.01, 0.05]}


def search(n_jobs):
    X, y = load_iris(return_X_y=True)
    est = DeltapropClassifier(epochs=30, batch_size=32, random_state=0)
    return GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs).fit(X, y)


def test_grid_search_on_a_local_dask_cluster_equals_serial():
    serial = search(n_jobs=1)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    try:
        with distributed.Client(cluster) as client:
            with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
                remote = search(n_jobs=-1)
            # the fits ran as Dask tasks, on both worker processes
            assert len(stream.data) >= 12 and len({t["worker"] for t in stream.data}) == 2
    finally:
        cluster.close()
    assert remote.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], serial.cv_results_[key])
    X, _ = load_iris(return_X_y=True)
    np.testing.assert_array_equal(remote.predict_proba(X), serial.predict_proba(X))
