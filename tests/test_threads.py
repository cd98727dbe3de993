"""The BLAS thread policy (kernels.blas_threads / threads_for): a pure choice from the work, the machine's load
and a flag, and a context that really caps NumPy's BLAS."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.engine import kernels
from deltaprop.errors import DeltapropError

SMALL, LARGE = [64, 256, 10], [784, 1024, 1024, 10]


def test_small_networks_get_one_thread_whatever_the_load():
    assert kernels.blas_threads(SMALL, 64, load=0.0, cpus=8) == 1


def test_large_networks_get_the_free_cores():
    assert 128 * 784 * 1024 >= kernels.SMALL_MATMUL
    assert kernels.blas_threads(LARGE, 128, load=0.0, cpus=8) == 8
    assert kernels.blas_threads(LARGE, 128, load=5.2, cpus=8) == 3
    assert kernels.blas_threads(LARGE, 128, load=1.4, cpus=2) == 1  # a busy 2-core machine: one thread
    assert kernels.blas_threads(LARGE, 128, load=30.0, cpus=2) == 1  # never fewer than one


def test_the_flag_wins_within_the_cores():
    assert kernels.blas_threads(SMALL, 64, threads=2, load=0.0, cpus=8) == 2
    assert kernels.blas_threads(LARGE, 128, threads=64, load=0.0, cpus=8) == 8


def test_the_context_caps_numpys_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    ctx = kernels.threads_for(SMALL, 64)
    assert ctx.threads == 1
    with ctx:
        blas = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_fit_takes_a_thread_count_and_refuses_a_bad_one():
    rng = np.random.default_rng(0)
    X, T = rng.random((16, 3)), np.eye(2)[rng.integers(0, 2, 16)]
    a = dp.fit((X, T), epochs=2, hidden=[4], batch_size=8, threads=1)
    b = dp.fit((X, T), epochs=2, hidden=[4], batch_size=8, threads=2)
    for p, q in zip(a.model.net.params(), b.model.net.params()):
        np.testing.assert_array_equal(p, q)  # the result does not depend on it
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DeltapropError, match="threads"):
            dp.fit((X, T), epochs=1, threads=bad)
