"""The layered engine against independent oracles: finite differences, PyTorch autograd, and hand-worked nets."""

import math

import numpy as np
import pytest

import deltaprop as dp
from conftest import HIDDEN, PAIRS, central_differences, fd_param_grads, rel_err, targets_for


def make(hidden, output, loss, dtype="float64", reduction="mean", seed=0):
    return dp.Network([3, 4, 3], activations=hidden, output=output, loss=loss, reduction=reduction,
                      init="normal", seed=seed, dtype=dtype)


def batch(loss, rng, n=5, k=3):
    return rng.standard_normal((n, 3)), targets_for(loss, rng, n, k)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradients_match_central_differences(hidden, output, loss, reduction, rng):
    net = make(hidden, output, loss, reduction=reduction)
    X, T = batch(loss, rng)
    g = net.loss_and_grads(X, T)
    for name, g_bp, g_fd in zip(net.param_names(), g.params(), fd_param_grads(net, X, T)):
        assert rel_err(g_bp, g_fd) <= 1e-7, name
    g_fd_X = central_differences(lambda x: net.cost(x, T), X)
    assert rel_err(g.X, g_fd_X) <= 1e-7


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss", PAIRS)
def test_gradients_match_pytorch(hidden, output, loss, rng):
    oracle = pytest.importorskip("torch_oracle")
    net = make(hidden, output, loss, reduction="mean")
    X, T = batch(loss, rng)
    g = net.loss_and_grads(X, T)
    C, dW, db, dX = oracle.grads(net.W, net.b, [hidden, output], loss, X, T)
    assert abs(g.cost - C) <= 1e-12 * max(1, abs(C))
    for l in range(net.L):
        assert rel_err(g.W[l], dW[l]) <= 1e-10
        assert rel_err(g.b[l], db[l]) <= 1e-10
    assert rel_err(g.X, dX) <= 1e-10


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss", PAIRS)
def test_float32_within_1e4_of_float64(hidden, output, loss, rng):
    net64 = make(hidden, output, loss, dtype="float64")
    net32 = net64.astype(np.float32)
    X, T = batch(loss, rng)
    g64, g32 = net64.loss_and_grads(X, T), net32.loss_and_grads(X, T)
    assert all(p.dtype == np.float32 for p in g32.params())
    assert g32.delta[0].dtype == np.float32
    for a, b in zip(g32.params(), g64.params()):
        assert rel_err(a, b) <= 1e-4
    assert abs(g32.cost - g64.cost) <= 1e-4 * max(1, abs(g64.cost))


def test_gaussian_nll_sigma2_against_pytorch(rng):
    oracle = pytest.importorskip("torch_oracle")
    net = dp.Network([3, 4, 2], "tanh", "gaussian_nll", output="identity", loss_params={"sigma2": 0.3}, seed=1)
    X, T = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    g = net.loss_and_grads(X, T)
    C, dW, db, _ = oracle.grads(net.W, net.b, ["tanh", "identity"], "gaussian_nll", X, T, sigma2=0.3)
    assert g.cost == pytest.approx(C, rel=1e-13)
    assert rel_err(g.W[0], dW[0]) <= 1e-10


def test_delta_is_per_sample_and_grads_are_batch_mean(rng):
    """δ of a batch row equals δ of that sample alone; ∂C/∂W of the batch is the mean of per-sample ones."""
    net = make("tanh", "sigmoid", "binary_cross_entropy")
    X, T = batch("binary_cross_entropy", rng, n=4)
    g = net.loss_and_grads(X, T)
    singles = [net.loss_and_grads(X[i:i + 1], T[i:i + 1]) for i in range(4)]
    for l in range(net.L):
        np.testing.assert_allclose(g.delta[l], np.vstack([s.delta[l] for s in singles]), rtol=1e-13)
        np.testing.assert_allclose(g.W[l], np.mean([s.W[l] for s in singles], axis=0), rtol=1e-12, atol=1e-15)
    gsum = make("tanh", "sigmoid", "binary_cross_entropy", reduction="sum").loss_and_grads(X, T)
    np.testing.assert_allclose(gsum.W[0], 4 * g.W[0], rtol=1e-12)


@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_scale_gives_the_gradients_of_the_scaled_cost(output, loss, reduction, rng):
    """backward(scale=k) is the gradient of k·C (central differences of k·C, the oracle), δ becomes ∂(kC)/∂z
    = k s δ, and the cost stays C: what plain SGD uses with k = −η."""
    net = make("tanh", output, loss, reduction=reduction)
    X, T = batch(loss, rng)
    k = -0.37
    plain = net.loss_and_grads(X, T)
    scaled = net.backward(net.forward(X), T, scale=k)
    s = 1 / X.shape[0] if reduction == "mean" else 1.0
    assert scaled.cost == plain.cost
    for g_k, g_fd in zip(scaled.params(), fd_param_grads(net, X, T)):
        assert rel_err(g_k, k * g_fd) <= 1e-7
    assert rel_err(scaled.X, k * central_differences(lambda x: net.cost(x, T), X)) <= 1e-7
    for g_k, g in zip(scaled.params() + [scaled.X], plain.params() + [plain.X]):
        np.testing.assert_allclose(g_k, k * g, rtol=1e-12, atol=1e-15)
    for d_k, d in zip(scaled.delta, plain.delta):
        np.testing.assert_allclose(d_k, k * s * d, rtol=1e-12, atol=1e-15)


def test_scale_with_targets_that_do_not_sum_to_one(rng):
    net = dp.Network([3, 4, 3], "tanh", "cross_entropy", output="softmax", seed=2)
    X = rng.standard_normal((4, 3))
    T = np.eye(3)[[0, 1, 2, 1]] * 0.8 + 0.1
    plain = net.loss_and_grads(X, T)
    scaled = net.backward(net.forward(X), T, scale=2.5)
    for g_k, g in zip(scaled.params(), plain.params()):
        np.testing.assert_allclose(g_k, 2.5 * g, rtol=1e-12)


def test_mazur_worked_example():
    """Matt Mazur's 'A Step by Step Backpropagation Example' (2-2-2, sigmoid, E = Σ ½(t − a)²): his numbers."""
    net = dp.Network([2, 2, 2], "sigmoid", "quadratic", reduction="sum",
                     W=[[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
                     b=[[0.35, 0.35], [0.60, 0.60]])
    X, T = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    trace = net.forward(X)
    assert trace.z[0][0, 0] == pytest.approx(0.3775, abs=1e-12)  # net_h1
    assert trace.a[0][0, 0] == pytest.approx(0.593269992, abs=1e-9)  # out_h1
    assert trace.a[1][0, 0] == pytest.approx(0.75136507, abs=1e-8)  # out_o1
    assert trace.a[1][0, 1] == pytest.approx(0.772928465, abs=1e-9)  # out_o2
    g = net.backward(trace, T)
    assert g.cost == pytest.approx(0.298371109, abs=1e-9)  # E_total
    assert g.W[1][0, 0] == pytest.approx(0.082167041, abs=1e-9)  # ∂E/∂w5
    assert g.W[0][0, 0] == pytest.approx(0.000438568, abs=1e-9)  # ∂E/∂w1
    lr = 0.5  # his updated weights after one step
    assert net.W[1][0, 0] - lr * g.W[1][0, 0] == pytest.approx(0.35891648, abs=1e-8)  # w5+
    assert net.W[1][1, 1] - lr * g.W[1][1, 1] == pytest.approx(0.561370121, abs=1e-9)  # w8+
    assert net.W[0][0, 0] - lr * g.W[0][0, 0] == pytest.approx(0.149780716, abs=1e-9)  # w1+
    assert net.W[0][1, 1] - lr * g.W[0][1, 1] == pytest.approx(0.29950229, abs=1e-8)  # w4+


def test_seed001_two_layer_chain_by_hand():
    """Seed 001: a = f(w² f(w¹x + b) + μ), C = (y − a)²/2; ∂C/∂w² and ∂C/∂w¹ by the slides' chain rule."""
    w1, b, w2, mu, x, y = 0.7, -0.2, -1.3, 0.4, 0.9, 0.25
    f = lambda z: 1 / (1 + math.exp(-z))
    df = lambda z: f(z) * (1 - f(z))
    z1 = w1 * x + b
    z2 = w2 * f(z1) + mu
    a = f(z2)
    dC_da = a - y
    dC_dw2 = dC_da * df(z2) * f(z1)  # ∂C/∂a · ∂f/∂z² · f(z¹)
    dC_dw1 = dC_da * df(z2) * w2 * df(z1) * x  # ∂C/∂a · ∂f/∂z² · w² · ∂f/∂z¹ · x
    net = dp.Network([1, 1, 1], "sigmoid", "quadratic", W=[[[w1]], [[w2]]], b=[[b], [mu]])
    g = net.loss_and_grads([[x]], [[y]])
    assert g.cost == pytest.approx(0.5 * (y - a) ** 2, rel=1e-15)
    assert g.W[1][0, 0] == pytest.approx(dC_dw2, rel=1e-14)
    assert g.W[0][0, 0] == pytest.approx(dC_dw1, rel=1e-14)
    assert g.b[1][0] == pytest.approx(dC_da * df(z2), rel=1e-14)


# Itakura–Saito is left out: at a = σ(−1000) its true value t/a ≈ t·e¹⁰⁰⁰ is itself beyond float64.
@pytest.mark.parametrize("output,loss", [p for p in PAIRS if p[1] != "itakura_saito"])
def test_logits_of_1000_give_finite_losses_and_gradients(output, loss, rng):
    net = dp.Network([2, 3], [output], loss, W=[[[1000, 0], [0, -1000], [-1000, 1000]]], b=[[0, 0, 0]])
    X = np.array([[1.0, 1.0], [-1.0, 0.5], [0.3, -1.0]])
    T = targets_for(loss, rng, 3, 3)
    with np.errstate(all="ignore"):
        g = net.loss_and_grads(X, T)
    assert np.isfinite(g.cost)
    assert all(np.all(np.isfinite(p)) for p in g.params())
    assert all(np.all(np.isfinite(d)) for d in g.delta)


@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
                                         ("identity", "quadratic")])
def test_canonical_pairs_are_exact_at_extreme_logits(output, loss):
    """For the canonical pairs δᴸ = a − t; at logits ±1000 the cost is the exact limit, with no warning."""
    net = dp.Network([1, 2], [output], loss, W=[[[1000.0], [-1000.0]]], b=[[0.0, 0.0]])
    T = np.array([[0.0, 1.0]]) if loss != "quadratic" else np.array([[0.0, 0.0]])  # the wrong class: large c
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = net.loss_and_grads([[1.0]], T)
    a = net.predict([[1.0]])
    np.testing.assert_array_equal(g.delta[-1], a - T)
    # CE: logsumexp(z) − z₂ = 1000 + 1000; BCE: softplus(1000) + softplus(−1000) + 1000; quadratic: ½(1000² + 1000²)
    expected = {"cross_entropy": 2000.0, "binary_cross_entropy": 2000.0, "quadratic": 1e6}[loss]
    assert g.cost == pytest.approx(expected, abs=1e-12)


def test_init_schemes_are_seeded_and_scaled():
    sizes = [400, 300, 10]
    for scheme, std in [("normal", 1.0), ("nielsen", 1 / math.sqrt(400)), ("he", math.sqrt(2 / 400)),
                        ("glorot", math.sqrt(2 / 700))]:
        a = dp.Network(sizes, init=scheme, seed=7)
        b = dp.Network(sizes, init=scheme, seed=np.random.default_rng(7))
        np.testing.assert_array_equal(a.W[0], b.W[0])
        assert a.W[0].std() == pytest.approx(std, rel=0.02), scheme
    assert not np.array_equal(dp.Network(sizes, seed=1).W[0], dp.Network(sizes, seed=2).W[0])


def test_bad_shapes_are_named():
    net = dp.Network([3, 2], "sigmoid")
    with pytest.raises(dp.DeltapropError, match=r"X must have shape \(N, 3\)"):
        net.forward(np.zeros((4, 2)))
    with pytest.raises(dp.DeltapropError, match=r"T must have shape \(4, 2\)"):
        net.loss_and_grads(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(dp.DeltapropError, match="layer 1 weights must have shape"):
        dp.Network([3, 2], W=[np.zeros((3, 2))])
    with pytest.raises(dp.DeltapropError, match="output layer only"):
        dp.Network([3, 2, 2], ["softmax", "softmax"])


def test_softmax_cross_entropy_is_exact_for_targets_that_do_not_sum_to_one(rng):
    """δᴸ = a Σt − t: the fused rule a − t holds only for rows of t that sum to 1; trace takes any t."""
    oracle = pytest.importorskip("torch_oracle")
    net = dp.Network([3, 4, 3], "tanh", "cross_entropy", output="softmax", seed=2)
    X = rng.standard_normal((4, 3))
    T = np.eye(3)[[0, 1, 2, 1]] * 0.8 + 0.1  # rows sum to 1.1
    g = net.loss_and_grads(X, T)
    C, dW, db, dX = oracle.grads(net.W, net.b, ["tanh", "softmax"], "cross_entropy", X, T)
    assert g.cost == pytest.approx(C, rel=1e-13)
    for l in range(net.L):
        assert rel_err(g.W[l], dW[l]) <= 1e-10 and rel_err(g.b[l], db[l]) <= 1e-10
    assert rel_err(g.X, dX) <= 1e-10


def test_what_enters_the_network_is_checked():
    with pytest.raises(dp.DeltapropError, match="whole numbers"):
        dp.Network([2, "a"])
    with pytest.raises(dp.DeltapropError, match="parameters; the limit is"):
        dp.Network([100_000, 100_000, 100_000])  # refused before 80 GB are asked for
    net = dp.Network([2, 1])
    with pytest.raises(dp.DeltapropError, match="X must hold numbers"):
        net.forward([["a", "b"]])
    with pytest.raises(dp.DeltapropError, match="T must hold numbers"):
        net.loss_and_grads([[1.0, 2.0]], [["x"]])
