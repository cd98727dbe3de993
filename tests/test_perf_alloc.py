"""The steady-state training step allocates no arrays, and keeps float32 in float32.

NumPy reports every array buffer (and every iteration or casting buffer a ufunc makes) to tracemalloc, so the
peak of traced memory during one step, above what was there before it, bounds what the step allocates. With
N = 1024 the smallest array the step could make, an (N, 1) column of float32, is 4 KiB; what remains below
that are Python objects (views, bound methods, the cost scalar).
"""

import tracemalloc

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training import optim, train

N = 1024
SMALLEST_ARRAY = N * 4  # bytes of an (N, 1) float32 array

PAIRS = [
    ("relu", "cross_entropy", "softmax"),
    ("sigmoid", "cross_entropy", "softmax"),
    ("tanh", "quadratic", "identity"),
    ("relu", "binary_cross_entropy", "sigmoid"),
]


def _setup(dtype, act, loss, output, opt="sgd"):
    rng = np.random.default_rng(0)
    X = rng.random((N, 30)).astype(dtype)
    T = np.eye(10, dtype=dtype)[rng.integers(0, 10, N)]
    if loss == "quadratic":
        T = rng.standard_normal((N, 10)).astype(dtype)
    net = dp.Network([30, 40, 40, 10], act, loss, output=output, dtype=dtype, seed=0)
    return net, optim.make(opt, lr=0.01), X, T


def _step_peaks(net, opt, X, T, steps=5):
    """The training loop's own step (train.step, gather included); the traced peak of each steady-state step
    above its start."""
    buf = train.StepBuffers(np.empty_like(X), np.empty_like(T))
    idx = np.random.default_rng(1).permutation(N)

    def step():
        train.step(net, opt, X, T, idx, buf, 0.5)

    step()
    step()  # the first steps make the buffers, the optimizer's included
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(steps):
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            step()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return peaks, buf.trace, buf.grads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act,loss,output", PAIRS)
def test_training_step_allocates_no_arrays(dtype, act, loss, output):
    peaks, _, _ = _step_peaks(*_setup(dtype, act, loss, output))
    assert max(peaks) < SMALLEST_ARRAY, f"a steady-state step allocated {max(peaks)} bytes at its peak"


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_optimizers_allocate_nothing_per_step(opt):
    peaks, _, _ = _step_peaks(*_setup("float32", "relu", "cross_entropy", "softmax", opt))
    assert max(peaks) < SMALLEST_ARRAY


def test_float32_stays_float32_end_to_end():
    net, opt, X, T = _setup("float32", "sigmoid", "cross_entropy", "softmax")
    trace = net.forward(X)
    grads = net.backward(trace, T, input_grad=False)
    opt.step(net.params(), grads.params(), np.float64(0.5))  # a NumPy float64 factor must not upcast
    arrays = trace.z + trace.a + grads.delta + grads.W + grads.b + net.W + net.b
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
    assert np.asarray(grads.cost).dtype == np.float32


def test_reused_buffers_give_the_same_gradients_as_fresh_ones():
    net, _, X, T = _setup("float64", "relu", "cross_entropy", "softmax")
    fresh = net.backward(net.forward(X), T, input_grad=False)
    trace = net.forward(X[::-1].copy())
    grads = net.backward(trace, T[::-1].copy(), input_grad=False)  # dirty the buffers with another batch
    trace = net.forward(X, trace)
    grads = net.backward(trace, T, grads, input_grad=False)
    for g, f in zip(grads.params() + grads.delta, fresh.params() + fresh.delta):
        np.testing.assert_array_equal(g, f)
    assert grads.cost == fresh.cost
