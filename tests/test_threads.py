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


def test_the_command_line_starts_blas_at_one_thread_and_the_policy_raises_it():
    import json
    import os
    import subprocess
    import sys

    from deltaprop.engine import blas_start

    env = {k: v for k, v in os.environ.items() if k not in blas_start.THREAD_SETTINGS}
    fresh = dict(env)
    assert blas_start.one_thread(fresh, modules={}) and fresh["OPENBLAS_NUM_THREADS"] == "1"
    assert not blas_start.one_thread({"OMP_NUM_THREADS": "4"}, modules={})  # the user's setting wins
    empty: dict = {}
    assert not blas_start.one_thread(empty) and not empty  # NumPy is loaded here: too late, nothing changes
    # a fresh interpreter as the command line starts: one thread, then two inside the policy's context, which
    # threadpoolctl can raise past the count OpenBLAS started with (the design depends on it)
    code = ("import json, os; from deltaprop.engine import blas_start; blas_start.one_thread(); "
            "import threadpoolctl; from deltaprop.engine import kernels; "
            "n = lambda: [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']; "
            "start = n()\n"
            "with kernels.threads_for([784, 1024, 10], 128, threads=2): inside = n()\n"
            "print(json.dumps([os.environ['OPENBLAS_NUM_THREADS'], start, inside, os.cpu_count()]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    setting, start, inside, cpus = json.loads(out.stdout)
    assert setting == "1" and start == [1]
    assert inside == [min(2, cpus)]


def test_the_processs_own_load_is_not_counted_as_another_processs():
    state = {"wall": None, "cpu": 0.0, "load": 0.0}
    assert kernels.own_load(now=100.0, cpu=0.0, state=state) == 0.0  # a fresh process adds nothing
    # one thread busy for five minutes: its part of the 1-minute average approaches 1, as the kernel's would
    for k in range(1, 61):
        own = kernels.own_load(now=100.0 + 5 * k, cpu=5.0 * k, state=state)
    assert own == pytest.approx(1 - np.exp(-300 / 60), rel=1e-9)
    # then idle for two minutes: it decays away
    assert kernels.own_load(now=520.0, cpu=300.0, state=state) == pytest.approx(own * np.exp(-2), rel=1e-9)
    first = {"wall": None, "cpu": 0.0, "load": 0.0}  # first call: the CPU used so far, as if just now
    assert kernels.own_load(now=5.0, cpu=30.0, state=first) == pytest.approx(1 - np.exp(-0.5))
    # the policy: a 2-core machine at load 1.0 that is this process alone has both cores free; with one other
    # busy process (load 2.0) it has one
    assert kernels.blas_threads(LARGE, 128, load=1.0, own=1.0, cpus=2) == 2
    assert kernels.blas_threads(LARGE, 128, load=2.0, own=1.0, cpus=2) == 1
    assert kernels.blas_threads(LARGE, 128, load=0.3, own=1.0, cpus=2) == 2  # never a negative load
