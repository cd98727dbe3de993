"""The training loop: determinism, resume bit for bit, divergence, interrupts, early stopping, and the
defaults' promises on digits and on Bishop's sine."""

import json

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training import train
from deltaprop.errors import DeltapropError

SMALL = dict(hidden=[6], epochs=6, batch_size=16, lr=0.01, early_stopping=0)  # wine: 178 samples, ~8 batches


def params(run):
    return [p.copy() for p in run.model.net.params()]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_same_seed_same_weights_bit_for_bit():
    a = dp.fit("wine", seed=3, **SMALL)
    b = dp.fit("wine", seed=3, **SMALL)
    c = dp.fit("wine", seed=4, **SMALL)
    assert same(params(a), params(b))
    assert not same(params(a), params(c))


@pytest.mark.parametrize("optimizer", ["adam", "nesterov"])
def test_resume_after_three_epochs_equals_six_straight(tmp_path, optimizer):
    settings = dict(SMALL, optimizer=optimizer, schedule="cosine", weight_decay=1e-3, val_split=0.2,
                    early_stopping=50)
    straight = dp.fit("wine", out=tmp_path / "a", **settings)
    first = dp.fit("wine", out=tmp_path / "b", stop_after_epoch=3, **settings)
    assert first.stopped_after == 3 and not (tmp_path / "b" / "model.npz").exists()
    resumed = dp.resume(tmp_path / "b")
    assert same(params(straight), params(resumed))
    lines = [json.loads(s) for s in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(s) for s in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    drop = lambda r: {k: v for k, v in r.items() if k != "seconds"}
    assert [drop(r) for r in lines] == [drop(r) for r in ref]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4, 5, 6]


class InterruptAfter:
    """Stands in for the Ctrl-C handler: the flag turns on after ``n`` mini-batches."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @property
    def flag(self):
        self.n -= 1
        return self.n < 0


def test_interrupt_mid_epoch_saves_a_checkpoint_and_resume_is_exact(tmp_path, monkeypatch):
    straight = dp.fit("wine", out=tmp_path / "a", **SMALL)
    monkeypatch.setattr(train, "_Interrupts", lambda: InterruptAfter(19))  # epoch 3, batch 4 of 8
    with pytest.raises(train.TrainingInterrupted, match=r"epoch 3, batch 4.*--resume"):
        dp.fit("wine", out=tmp_path / "b", **SMALL)
    monkeypatch.undo()
    resumed = dp.resume(tmp_path / "b")
    assert same(params(straight), params(resumed))


def test_divergence_names_epoch_and_batch_and_keeps_the_run(tmp_path):
    with pytest.raises(DeltapropError, match=r"diverged in epoch \d+, batch \d+.*smaller learning rate"):
        dp.fit("diabetes", out=tmp_path, optimizer="sgd", lr=1e3, epochs=5, early_stopping=0)
    assert (tmp_path / "config.toml").exists() and (tmp_path / "metrics.jsonl").exists()


def test_divergence_after_good_epochs_keeps_their_checkpoint(tmp_path, monkeypatch):
    real = train._finite_grads
    calls = {"n": 0}

    def poisoned(grads):  # a NaN gradient appears in the 20th mini-batch (epoch 3)
        calls["n"] += 1
        return real(grads) and calls["n"] != 20

    monkeypatch.setattr(train, "_finite_grads", poisoned)
    with pytest.raises(DeltapropError, match=r"epoch 3, batch 4: the gradient is NaN or Inf"):
        dp.fit("wine", out=tmp_path, checkpoint_every=1, **SMALL)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [1, 2]
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as f:
        meta = json.loads(f["meta"].tobytes().decode())
        assert meta["state"]["epoch"] == 2 and np.all(np.isfinite(f["W1"]))


def test_by_default_a_checkpoint_is_written_once_a_second_at_most(tmp_path, monkeypatch):
    saved = []
    real = train.runs.save_checkpoint
    monkeypatch.setattr(train.runs, "save_checkpoint", lambda path, net, opt, state, *a: (
        saved.append(state.epoch), real(path, net, opt, state, *a)))
    dp.fit("iris", out=tmp_path / "fast", hidden=[4], epochs=12, early_stopping=0)
    assert saved == [12]  # twelve epochs of iris take well under a second: the end's checkpoint only
    saved.clear()
    monkeypatch.setattr(train, "CHECKPOINT_SECONDS", 0.0)  # as if every epoch took longer than the interval
    dp.fit("iris", out=tmp_path / "slow", hidden=[4], epochs=12, early_stopping=0)
    assert saved == list(range(1, 13))
    saved.clear()
    dp.fit("iris", out=tmp_path / "every5", hidden=[4], epochs=12, early_stopping=0, checkpoint_every=5)
    assert saved == [5, 10, 12]


def test_divergence_before_any_checkpoint_does_not_promise_one(tmp_path, monkeypatch):
    real = train._finite_grads
    calls = {"n": 0}

    def poisoned(grads):
        calls["n"] += 1
        return real(grads) and calls["n"] != 20

    monkeypatch.setattr(train, "_finite_grads", poisoned)
    with pytest.raises(DeltapropError, match=r"epoch 3, batch 4") as e:
        dp.fit("wine", out=tmp_path, **SMALL)
    assert "checkpoint" not in str(e.value) and not (tmp_path / "checkpoint.npz").exists()
    assert [json.loads(s)["epoch"] for s in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_early_stopping_restores_the_best_weights(tmp_path):
    run = dp.fit("iris", out=tmp_path, hidden=[32], lr=0.05, epochs=300, early_stopping=5)
    m = run.metrics
    assert m["stopped_early"] and m["epochs_run"] == m["best_epoch"] + 5
    best = min(r["val_loss"] for r in run.history)
    assert m["val_loss"] == pytest.approx(best, rel=1e-12)


def test_evaluate_and_predict_api():
    run = dp.fit("iris", epochs=30, seed=0)
    ds = dp.load_data("iris")
    m = dp.evaluate(run.model, ds)
    acc = np.mean(dp.predict(run.model, ds.X) == ds.labels)
    assert m["accuracy"] == pytest.approx(acc)
    P = dp.predict(run.model, ds.X, proba=True)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert acc > 0.8


def test_fit_on_arrays_and_float32():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2))
    y = (X[:, 0] > 0).astype(int)
    run = dp.fit((X, y), hidden=[8], epochs=20, lr=0.01, dtype="float32")
    assert run.model.net.dtype == np.float32 and run.metrics["test_accuracy"] > 0.85


def test_sine_fits_as_in_bishops_figure(tmp_path):
    run = dp.fit("sine", out=tmp_path, hidden=[3], activation="tanh")
    assert run.metrics["train_mse"] <= 2e-3
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_digits_defaults_reach_97_percent():
    run = dp.fit("digits")
    assert run.metrics["test_accuracy"] >= 0.97


def test_spiral_defaults_separate_the_arms():
    """The Playground's spiral from x1, x2 alone: its recipe must get well past the linear 50 %."""
    run = dp.fit("spiral")
    assert run.metrics["test_accuracy"] >= 0.9


def _one_step(optimizer, lr_factor, seed=0, **kw):
    rng = np.random.default_rng(seed)
    net = dp.Network([5, 7, 4], "relu", "cross_entropy", output="softmax", seed=seed)
    X = rng.standard_normal((12, 5))
    T = np.eye(4)[rng.integers(0, 4, 12)]
    idx = rng.permutation(12)[:8]
    opt = dp.training.optim.make(optimizer, lr=0.05, **kw)
    theta0 = [p.copy() for p in net.params()]
    buf = train.StepBuffers.empty(8, X, T)
    cost = train.step(net, opt, X, T, idx, buf, lr_factor)
    return net, opt, theta0, X[idx], T[idx], cost


@pytest.mark.parametrize("lr_factor", [1.0, 0.3])
def test_plain_sgd_step_folded_into_backward_is_theta_minus_eta_grad(lr_factor):
    """train.step folds −η into δᴸ for plain SGD: the parameters move by −η ∂C/∂θ, with ∂C/∂θ from PyTorch
    autograd (the oracle) where it imports and from central differences otherwise."""
    net, opt, theta0, Xb, Tb, cost = _one_step("sgd", lr_factor)
    assert opt.folds_lr and opt.t == 1
    ref = dp.Network([5, 7, 4], "relu", "cross_entropy", output="softmax", seed=0)
    try:
        import torch_oracle

        C, dW, db, _ = torch_oracle.grads(ref.W, ref.b, ["relu", "softmax"], "cross_entropy", Xb, Tb)
        g = [x for pair in zip(dW, db) for x in pair]
    except ImportError:
        from conftest import fd_param_grads

        C, g = ref.cost(Xb, Tb), fd_param_grads(ref, Xb, Tb)
    assert cost == pytest.approx(C, rel=1e-12)
    for p, p0, gi in zip(net.params(), theta0, g):
        np.testing.assert_allclose(p - p0, -0.05 * lr_factor * gi, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("optimizer,kw", [("sgd", {}), ("momentum", {}), ("sgd", {"weight_decay": 0.01}),
                                          ("adam", {})])
def test_step_matches_backward_then_optimizer_step(optimizer, kw):
    """The loop's step (folded or not) moves the parameters as backward + opt.step does."""
    net, opt, theta0, Xb, Tb, _ = _one_step(optimizer, 0.5, **kw)
    ref = dp.Network([5, 7, 4], "relu", "cross_entropy", output="softmax", seed=0)
    ref_opt = dp.training.optim.make(optimizer, lr=0.05, **kw)
    ref_opt.step(ref.params(), ref.loss_and_grads(Xb, Tb).params(), 0.5)
    assert opt.folds_lr == (optimizer == "sgd" and not kw)
    for p, q in zip(net.params(), ref.params()):
        np.testing.assert_allclose(p, q, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_add_step_with_and_without_the_accumulating_gemm(dtype, monkeypatch):
    """The step added inside one GEMM (β = 1, NumPy's own OpenBLAS) equals the step written out to grads.W and
    added (the NumPy path, taken where that BLAS call is unavailable), and both equal θ − η ∂C/∂θ."""
    from deltaprop.engine import kernels as blas

    rng = np.random.default_rng(2)
    X = rng.standard_normal((9, 5)).astype(dtype)
    T = np.eye(4, dtype=dtype)[rng.integers(0, 4, 9)]
    idx = np.arange(9)
    results = []
    for plan in (blas.plan, None):
        monkeypatch.setattr(blas, "plan", plan)
        net = dp.Network([5, 7, 6, 4], "tanh", "cross_entropy", output="softmax", seed=1, dtype=dtype)
        ref = [p.astype(np.float64) - 0.05 * g for p, g in
               zip(net.params(), net.astype(np.float64).loss_and_grads(X.astype(np.float64), T).params())]
        opt = dp.training.optim.make("sgd", lr=0.05)
        train.step(net, opt, X, T, idx, train.StepBuffers(np.empty_like(X), np.empty_like(T)))
        tol = 1e-5 if dtype == "float32" else 1e-13
        for p, r in zip(net.params(), ref):
            np.testing.assert_allclose(p, r, rtol=tol, atol=tol)
        results.append([p.copy() for p in net.params()])
    for p, q in zip(*results):
        np.testing.assert_allclose(p, q, rtol=1e-5 if dtype == "float32" else 1e-14)


def test_a_nan_delta_is_seen_in_the_bias_gradients(rng=np.random.default_rng(5)):
    """_finite_grads reads only ∂C/∂b = s Σ δ: a single NaN δ in any layer shows there."""
    net = dp.Network([3, 6, 5, 2], "tanh", "quadratic", output="identity", seed=1)
    X, T = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    trace = net.forward(X)
    assert train._finite_grads(net.backward(trace, T))
    T_bad = T.copy()
    T_bad[2, 1] = np.nan  # δᴸ = a − t is NaN in one entry; the recursion carries it down every layer
    grads = net.backward(trace, T_bad)
    assert all(np.isnan(g).any() for g in grads.b)
    assert not train._finite_grads(grads)
    grads.b[0][3] = np.inf
    grads.b[1][:] = 0
    grads.b[2][:] = 0
    assert not train._finite_grads(grads)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverged_step_changes_no_parameter(optimizer):
    """train.step raises before the update: the loop's error leaves the network as the last good step left it."""
    rng = np.random.default_rng(4)
    net = dp.Network([3, 5, 2], "relu", "quadratic", output="identity", seed=0)
    X, T = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    opt = dp.training.optim.make(optimizer, lr=0.1)
    buf = train.StepBuffers(np.empty_like(X), np.empty_like(T))
    train.step(net, opt, X, T, np.arange(6), buf)
    before, t = [p.copy() for p in net.params()], opt.t
    T[4, 0] = np.inf
    with pytest.raises(train._Diverged, match="loss is inf"), np.errstate(invalid="ignore", over="ignore"):
        train.step(net, opt, X, T, np.arange(6), buf)
    assert same(before, [p.copy() for p in net.params()]) and opt.t == t
