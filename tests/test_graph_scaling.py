"""The scaling benchmark's builders at a small size: the DAG has the edges asked for, the engines agree."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import graph_scaling  # noqa: E402

from deltaprop import Network  # noqa: E402


def test_random_dag_shape_and_skip_connections():
    net = graph_scaling.random_dag(500, 5000, levels=5, seed=3)
    assert net.w.size == 5000 and len(net.ids) == 500 and len(net.levels) == 4
    span = net.level[net.dst] - net.level[net.src]
    assert span.min() == 1 and span.max() > 1  # skip connections across levels
    assert not any(lv.dense for lv in net.levels)


def test_dense_layered_through_graph_engine_agrees():
    dense = Network([6, 8, 5, 3], "tanh", "quadratic", seed=0)
    g = graph_scaling.layered_as_graph(dense)
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((4, 6)), rng.standard_normal((4, 3))
    a, b = dense.loss_and_grads(X, T), g.loss_and_grads(X, T)
    assert abs(a.cost - b.cost) < 1e-12 and np.allclose(np.concatenate([W.ravel() for W in a.W]), b.w, atol=1e-12)


def test_benchmark_runs_small(capsys):
    assert graph_scaling.main(["--neurons", "400", "--edges", "2000", "4000", "--batch", "8", "--layered", "8", "8",
                               "2", "--repeat", "1", "--json"]) == 0
    assert '"linear_ok"' in capsys.readouterr().out
