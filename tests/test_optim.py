"""Each optimizer's update against steps worked by hand, and against torch.optim where torch imports."""

import math

import numpy as np
import pytest

from deltaprop.training import optim
from deltaprop.errors import DeltapropError


def arrays(*values):
    return [np.array(v, dtype=float) for v in values]


def test_sgd_step_by_hand():
    # θ ← θ − η g: 1 − 0.1·0.5 = 0.95, 2 − 0.1·(−1) = 2.1
    p, g = arrays([1.0, 2.0]), arrays([0.5, -1.0])
    optim.make("sgd", lr=0.1).step(p, g)
    np.testing.assert_allclose(p[0], [0.95, 2.1], rtol=0, atol=1e-15)


def test_sgd_weight_decay_by_hand():
    # g + λθ = 0.5 + 0.1·2 = 0.7; θ = 2 − 0.5·0.7 = 1.65
    p, g = arrays([2.0]), arrays([0.5])
    optim.make("sgd", lr=0.5, weight_decay=0.1).step(p, g)
    assert p[0][0] == pytest.approx(1.65, abs=1e-15)


def test_momentum_two_steps_by_hand():
    # v1 = g1 = 1, θ1 = 0 − 0.1·1 = −0.1; v2 = 0.9·1 + 2 = 2.9, θ2 = −0.1 − 0.29 = −0.39
    p = arrays([0.0])
    opt = optim.make("sgd", lr=0.1, momentum=0.9)
    opt.step(p, arrays([1.0]))
    assert p[0][0] == pytest.approx(-0.1, abs=1e-15)
    opt.step(p, arrays([2.0]))
    assert p[0][0] == pytest.approx(-0.39, abs=1e-15)


def test_nesterov_two_steps_by_hand():
    # step 1: v = 1, direction g + μv = 1 + 0.9 = 1.9, θ = −0.19
    # step 2: v = 0.9 + 2 = 2.9, direction 2 + 0.9·2.9 = 4.61, θ = −0.19 − 0.461 = −0.651
    p = arrays([0.0])
    opt = optim.make("nesterov", lr=0.1, momentum=0.9)
    opt.step(p, arrays([1.0]))
    assert p[0][0] == pytest.approx(-0.19, abs=1e-15)
    opt.step(p, arrays([2.0]))
    assert p[0][0] == pytest.approx(-0.651, abs=1e-14)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p = arrays([1.0])
    opt = optim.make("adam", lr=lr)
    # step 1, g = 2: m = 0.2, v = 0.004, m̂ = 2, v̂ = 4 → θ = 1 − 0.1·2/(2 + ε)
    opt.step(p, arrays([2.0]))
    theta1 = 1 - lr * 2 / (2 + eps)
    assert p[0][0] == pytest.approx(theta1, rel=1e-14)
    # step 2, g = −1: m = 0.9·0.2 − 0.1 = 0.08, v = 0.999·0.004 + 0.001 = 0.004996
    m, v = 0.08, 0.004996
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    theta2 = theta1 - lr * m_hat / (math.sqrt(v_hat) + eps)
    opt.step(p, arrays([-1.0]))
    assert p[0][0] == pytest.approx(theta2, rel=1e-12)


def test_adam_l2_and_adamw_decoupled_by_hand():
    lr, lam = 0.1, 0.5
    # Adam with L2: g' = 1 + 0.5·2 = 2; first step moves by lr·g'/(|g'| + ε) ≈ lr
    p = arrays([2.0])
    optim.make("adam", lr=lr, weight_decay=lam).step(p, arrays([1.0]))
    assert p[0][0] == pytest.approx(2 - lr * 2 / (2 + 1e-8), rel=1e-14)
    # AdamW: θ ← θ(1 − ηλ) = 2·0.95 = 1.9, then the Adam step on g = 1 alone: − 0.1·1/(1 + ε)
    p = arrays([2.0])
    optim.make("adamw", lr=lr, weight_decay=lam).step(p, arrays([1.0]))
    assert p[0][0] == pytest.approx(1.9 - lr / (1 + 1e-8), rel=1e-14)


def test_lr_factor_scales_the_step():
    p = arrays([1.0])
    optim.make("sgd", lr=0.1).step(p, arrays([1.0]), lr_factor=0.5)
    assert p[0][0] == pytest.approx(0.95, abs=1e-15)


@pytest.mark.parametrize("name,kw", [
    ("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1, "weight_decay": 0.01}), ("nesterov", {"lr": 0.05}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}), ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
])
def test_state_dict_round_trip_continues_bit_for_bit(name, kw):
    rng = np.random.default_rng(1)
    grads = [[rng.standard_normal((3, 2)), rng.standard_normal(3)] for _ in range(6)]
    p_straight = [np.ones((3, 2)), np.zeros(3)]
    opt = optim.make(name, **kw)
    for g in grads:
        opt.step(p_straight, g)
    p = [np.ones((3, 2)), np.zeros(3)]
    first = optim.make(name, **kw)
    for g in grads[:3]:
        first.step(p, g)
    second = optim.make(name, **kw)
    second.load_state_dict(first.state_dict(), p)
    for g in grads[3:]:
        second.step(p, g)
    for a, b in zip(p, p_straight):
        assert np.array_equal(a, b)


def test_loading_a_fresh_state_then_stepping_works():
    p = arrays([1.0])
    opt = optim.make("momentum", lr=0.1)
    opt.load_state_dict(optim.make("momentum", lr=0.1).state_dict(), p)
    opt.step(p, arrays([1.0]))
    assert p[0][0] == pytest.approx(0.9, abs=1e-15)


def test_schedules_by_hand():
    step = optim.schedule("step", step_size=10, gamma=0.5)
    assert [step(e) for e in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    cos = optim.schedule("cosine", epochs=10)
    assert cos(0) == 1.0 and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(DeltapropError, match="unknown schedule"):
        optim.schedule("warmup")


def test_bad_settings_are_clear_errors():
    for name, kw in [("sgd", {"lr": -1}), ("sgd", {"momentum": 1.5}), ("adam", {"betas": (1.0, 0.9)}),
                     ("rmsprop", {})]:
        with pytest.raises(DeltapropError):
            optim.make(name, **kw)


@pytest.mark.parametrize("name,kw,torch_name,torch_kw", [
    ("sgd", {"lr": 0.1, "weight_decay": 0.01}, "SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("momentum", {"lr": 0.1, "momentum": 0.8}, "SGD", {"lr": 0.1, "momentum": 0.8}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, "SGD",
     {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, "Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
])
def test_against_torch_optim(name, kw, torch_name, torch_kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0 = [rng.standard_normal((4, 3)), rng.standard_normal(4)]
    grads = [[rng.standard_normal((4, 3)), rng.standard_normal(4)] for _ in range(8)]
    ours = [a.copy() for a in p0]
    opt = optim.make(name, **kw)
    theirs = [torch.tensor(a, requires_grad=True) for a in p0]
    topt = getattr(torch.optim, torch_name)(theirs, **torch_kw)
    for g in grads:
        opt.step(ours, g)
        for t, gi in zip(theirs, g):
            t.grad = torch.tensor(gi)
        topt.step()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- the compiled update (Numba, optional) and the NumPy path it stands in for ------------------------------------

UPDATES = [
    ("momentum", {"lr": 0.1, "momentum": 0.8}), ("momentum", {"lr": 0.1, "weight_decay": 0.01}),
    ("nesterov", {"lr": 0.05, "weight_decay": 0.01}), ("adam", {"lr": 0.01}), ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
]


def _trajectory(name, kw, compiled, dtype, order, steps=6):
    rng = np.random.default_rng(3)
    p = [np.asarray(rng.standard_normal((7, 5)), dtype=dtype, order=order), rng.standard_normal(7).astype(dtype)]
    opt = optim.make(name, **kw)
    opt.compiled = compiled
    for _ in range(steps):
        g = [np.asarray(rng.standard_normal(a.shape), dtype=dtype, order=order) for a in p]
        opt.step(p, g)
    return p, opt


@pytest.mark.parametrize("name,kw", UPDATES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_compiled_update_is_the_numpy_update(name, kw, dtype, order):
    """One compiled pass computes the NumPy passes' operations in the same order: the same numbers (to one
    rounding, should the compiler fuse a multiply-add), the dtype kept, and the state the same."""
    pytest.importorskip("numba")
    p_fast, opt_fast = _trajectory(name, kw, True, dtype, order)
    p_np, opt_np = _trajectory(name, kw, False, dtype, order)
    assert opt_fast._kernels is not None and opt_np._kernels is None
    tol = 4 * np.finfo(dtype).eps
    for a, b in zip(p_fast, p_np):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for k, arrs in opt_np.state.items():
        for a, b in zip(opt_fast.state[k], arrs):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,kw,torch_name,torch_kw", [
    ("momentum", {"lr": 0.1, "momentum": 0.8}, "SGD", {"lr": 0.1, "momentum": 0.8}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, "SGD",
     {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, "Adam", {"lr": 0.01, "weight_decay": 0.1, "fused": True}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, "AdamW", {"lr": 0.01, "weight_decay": 0.1, "fused": True}),
    ("adam", {"lr": 0.01}, "Adam", {"lr": 0.01}),
])
@pytest.mark.parametrize("compiled", [True, False])
def test_both_paths_against_torch_optim(name, kw, torch_name, torch_kw, compiled):
    """The compiled and the NumPy update against torch.optim (its fused Adam too), float64, to 1e-12."""
    torch = pytest.importorskip("torch")
    if compiled:
        pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    p0 = [np.asfortranarray(rng.standard_normal((4, 3))), rng.standard_normal(4)]
    grads = [[rng.standard_normal((4, 3)), rng.standard_normal(4)] for _ in range(8)]
    ours = [a.copy(order="K") for a in p0]
    opt = optim.make(name, **kw)
    opt.compiled = compiled
    # torch's tensors in C order like their gradients (its fused Adam assumes a parameter and its gradient share
    # one layout: given an F-order parameter and a C-order gradient it pairs the wrong elements)
    theirs = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in p0]
    topt = getattr(torch.optim, torch_name)(theirs, **torch_kw)
    for g in grads:
        opt.step(ours, [np.asarray(gi, order="F") for gi in g])
        for t, gi in zip(theirs, g):
            t.grad = torch.tensor(gi)
        topt.step()
    assert (opt._kernels is not None) == compiled
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_compiled_update_chosen_by_size_and_off_by_environment(monkeypatch):
    assert optim.compiled_kernels(100) is None  # small: the NumPy passes (no Numba import)
    assert optim.compiled_kernels(10**7, wanted=False) is None
    monkeypatch.setenv("DELTAPROP_NUMPY_ONLY", "1")
    assert optim.compiled_kernels(10**7) is None
    monkeypatch.delenv("DELTAPROP_NUMPY_ONLY")
    pytest.importorskip("numba")
    assert optim.compiled_kernels(optim.COMPILED_MIN) is not None


def test_non_contiguous_parameter_takes_the_numpy_path():
    """A strided view cannot be flattened in place: that parameter is updated by the NumPy passes, correctly."""
    pytest.importorskip("numba")
    big = np.ones((6, 8))
    p = [big[::2, ::2]]
    opt = optim.make("adam", lr=0.1)
    opt.compiled = True
    opt.step(p, [np.ones((3, 4))])
    np.testing.assert_allclose(big[::2, ::2], 1 - 0.1 / (1 + 1e-8), rtol=1e-14)  # first step: θ − η g/(|g| + ε)
    assert np.all(big[1::2] == 1) and np.all(big[::2, 1::2] == 1)


@pytest.mark.parametrize("name", ["adam", "adamw", "nesterov"])
@pytest.mark.parametrize("compiled", [True, False])
def test_update_allocates_no_arrays(name, compiled):
    """After the first step neither path makes an array: the peak of traced memory of a step over 10,000-element
    float64 parameters (80 KB each) stays below 4 KiB: Python objects (views, scalars), no array."""
    import tracemalloc

    if compiled:
        pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    p = [np.asfortranarray(rng.standard_normal((100, 100))), rng.standard_normal(100)]
    g = [np.asfortranarray(rng.standard_normal((100, 100))), rng.standard_normal(100)]
    opt = optim.make(name, lr=0.01)
    opt.compiled = compiled
    opt.step(p, g)
    opt.step(p, g)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        opt.step(p, g)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert (opt._kernels is not None) == compiled
    assert peak < 4096, peak
