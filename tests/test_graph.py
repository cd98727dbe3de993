"""The graph engine: against finite differences, the layered engine, SymPy and PyTorch; file errors."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.engine import graph
from deltaprop.files import netfile
from deltaprop.errors import DeltapropError
from deltaprop.explain.gradcheck import numeric_gradients, relative_error


def layered_as_graph(net: dp.Network, loss="quadratic", reduction="mean") -> graph.GraphNetwork:
    inputs = [f"x{k}" for k in range(net.sizes[0])]
    neurons, src, dst, w, b, acts, prev = [], [], [], [], [], [], inputs
    for l, (W, bl) in enumerate(zip(net.W, net.b)):
        cur = [f"L{l}n{j}" for j in range(W.shape[0])]
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                src.append(prev[k]), dst.append(cur[j]), w.append(W[j, k])
        neurons += cur
        b += list(bl)
        acts += [net.activations[l]] * len(cur)
        prev = cur
    return graph.GraphNetwork(inputs, neurons, src, dst, w, b, acts, loss=loss, reduction=reduction)


@pytest.mark.parametrize("acts,output,loss", [
    ("tanh", "sigmoid", "quadratic"),
    ("sigmoid", "sigmoid", "binary_cross_entropy"),  # canonical pair: δ = a − t in both engines
    ("relu", "identity", "quadratic"),
    ("tanh(z)*2", "z**2", "itakura_saito"),
])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_agrees_with_layered_engine(acts, output, loss, reduction):
    net = dp.Network([3, 5, 4, 2], acts, loss, output=output, seed=2, reduction=reduction)
    g = layered_as_graph(net, loss, reduction)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 3))
    T = rng.uniform(0.2, 0.8, (6, 2)) if loss != "quadratic" else rng.standard_normal((6, 2))
    G, Lg = g.loss_and_grads(X, T), net.loss_and_grads(X, T)
    assert abs(G.cost - Lg.cost) <= 1e-12 * max(1, abs(Lg.cost))
    gw = np.concatenate([W.ravel() for W in Lg.W])  # graph edges: sorted by target, then source = row-major W
    assert np.max(np.abs(G.w - gw)) <= 1e-12
    assert np.max(np.abs(G.b - np.concatenate(Lg.b))) <= 1e-12
    assert np.max(np.abs(G.X - Lg.X)) <= 1e-12
    assert np.allclose(g.predict(X), net.predict(X), atol=1e-12, rtol=0)
    assert all(lv.dense for lv in g.levels)


def random_dag(rng, n_in=3, n=12, p=0.5, acts=("tanh", "sigmoid", "z**2", "softplus")):
    """A random DAG with skip connections: every neuron may take input from any earlier one."""
    ids = [f"n{k}" for k in range(n)]
    src, dst = [], []
    for j in range(n_in, n):
        parents = [i for i in range(j) if rng.random() < p] or [int(rng.integers(0, j))]
        for i in parents:
            src.append(ids[i]), dst.append(ids[j])
    w = rng.normal(0, 0.8, len(src))
    b = rng.normal(0, 0.3, n - n_in)
    act = [acts[k % len(acts)] for k in range(n - n_in)]
    return graph.GraphNetwork(ids[:n_in], ids[n_in:], src, dst, w, b, act, loss="quadratic")


@pytest.mark.parametrize("seed", range(4))
def test_random_dag_against_finite_differences(seed):
    rng = np.random.default_rng(seed)
    net = random_dag(rng)
    X = rng.standard_normal((5, 3))
    T = rng.standard_normal((5, len(net.outputs)))
    g = net.loss_and_grads(X, T)
    num = numeric_gradients(net, X, T, "central")
    assert relative_error(g.w, num[0]) < 1e-7
    assert relative_error(g.b, num[1]) < 1e-7
    assert dp.gradcheck(net, X, T, method="complex").ok(1e-12)
    assert any(not lv.dense for lv in net.levels)  # the sparse path ran


def test_sparse_and_dense_levels_agree():
    rng = np.random.default_rng(7)
    net = random_dag(rng, n=15, p=1.0)  # complete DAG: every level dense
    X, T = rng.standard_normal((4, 3)), rng.standard_normal((4, len(net.outputs)))
    dense = net.loss_and_grads(X, T)
    assert all(lv.dense for lv in net.levels)
    for lv in net.levels:  # force the sparse path on the same weights
        import scipy.sparse as sps

        shape = (lv.stop - lv.start, lv.hi - lv.lo)
        m = sps.csr_matrix(net.w[lv.e0:lv.e1].reshape(shape))
        lv.dense, lv.matrix = False, m
        lv.rows = np.repeat(np.arange(shape[0], dtype=np.int32), shape[1])
    sparse = net.loss_and_grads(X, T)
    assert np.allclose(dense.w, sparse.w, atol=1e-14) and np.allclose(dense.X, sparse.X, atol=1e-14)


def test_params_are_views_the_network_uses():
    rng = np.random.default_rng(1)
    net = random_dag(rng)
    X = rng.standard_normal((2, 3))
    before = net.predict(X).copy()
    net.params()[0][:] *= 2  # in place, as an optimizer does
    assert not np.allclose(net.predict(X), before)


def test_against_sympy_derivatives():
    sp = pytest.importorskip("sympy")
    rng = np.random.default_rng(5)
    net = random_dag(rng, n=7, acts=("tanh", "sigmoid"))
    x = rng.standard_normal(3)
    t = rng.standard_normal(len(net.outputs))
    ws = sp.symbols(f"w0:{len(net.w)}")
    bs = sp.symbols(f"b0:{len(net.b)}")
    f = {"tanh": sp.tanh, "sigmoid": lambda v: 1 / (1 + sp.exp(-v))}
    a = {net.ids[k]: sp.Float(x[k]) for k in range(3)}
    for m, j in enumerate(net.neurons):  # forward written independently from the edge list
        z = bs[m] + sum(ws[e] * a[i] for e, (i, jj) in enumerate(net.edges) if jj == j)
        a[j] = f[net.activations[m].name](z)
    L = sum((a[o] - t[c]) ** 2 / 2 for c, o in enumerate(net.outputs))
    vals = {**dict(zip(ws, net.w)), **dict(zip(bs, net.b))}
    g = net.loss_and_grads(x[None, :], t[None, :])
    for e in range(len(ws)):
        assert abs(float(sp.diff(L, ws[e]).subs(vals)) - g.w[e]) < 1e-12
    for m in range(len(bs)):
        assert abs(float(sp.diff(L, bs[m]).subs(vals)) - g.b[m]) < 1e-12


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    net = random_dag(rng, n=14, acts=("tanh", "sigmoid", "z**2", "softplus"))
    X = rng.standard_normal((7, 3))
    T = rng.standard_normal((7, len(net.outputs)))
    w = torch.tensor(net.w, requires_grad=True)
    b = torch.tensor(net.b, requires_grad=True)
    fn = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "z**2": lambda v: v * v,
          "softplus": torch.nn.functional.softplus}
    a = {net.ids[k]: torch.tensor(X[:, k]) for k in range(3)}
    for m, j in enumerate(net.neurons):
        z = b[m] + sum(w[e] * a[i] for e, (i, jj) in enumerate(net.edges) if jj == j)
        a[j] = fn[net.activations[m].name](z)
    L = sum(((a[o] - torch.tensor(T[:, c])) ** 2 / 2) for c, o in enumerate(net.outputs)).mean()
    L.backward()
    g = net.loss_and_grads(X, T)
    assert abs(L.item() - g.cost) < 1e-12
    assert np.allclose(w.grad.numpy(), g.w, atol=1e-12, rtol=0)
    assert np.allclose(b.grad.numpy(), g.b, atol=1e-12, rtol=0)


def test_output_that_feeds_another_neuron():
    doc = {"inputs": ["x"], "outputs": ["h", "o"], "activation": "tanh",
           "neurons": {"h": {"weights": {"x": 0.7}, "bias": 0.1}, "o": {"weights": {"h": -1.3, "x": 0.4}}}}
    net = netfile.graph_from_dict(doc)
    X, T = np.array([[0.9]]), np.array([[0.2, -0.5]])
    g = net.loss_and_grads(X, T)
    num = numeric_gradients(net, X, T)
    assert relative_error(g.w, num[0]) < 1e-8 and relative_error(g.b, num[1]) < 1e-8


def test_float64_by_default_and_float32_option():
    doc = {"inputs": ["1"], "neurons": {"2": {"weights": {"1": 0.5}}}}
    assert netfile.graph_from_dict(doc).w.dtype == np.float64
    assert netfile.graph_from_dict({**doc, "dtype": "float32"}).w.dtype == np.float32


# --- file errors ------------------------------------------------------------------------------------------------

def _doc(**neurons):
    return {"inputs": ["1", "2"], "neurons": neurons}


@pytest.mark.parametrize("doc,match", [
    (_doc(**{"3": {"weights": {"1": 1, "4": 1}}, "4": {"weights": {"3": 1}}}), r"cycle: (3 → 4 → 3|4 → 3 → 4)"),
    (_doc(**{"3": {"weights": {"1": 1, "5": 1}}, "4": {"weights": {"3": 1, "5": 1}},
             "5": {"weights": {"4": 1}}}), r"cycle: .*4 → 5|5 → 4"),
    (_doc(**{"3": {"weights": {"1": 1, "9": 1}}}), r"unknown neuron '9'"),
    (_doc(**{"3": {"weights": {"1": 1}}, "1": {"weights": {"3": 1}}}), r"neuron '1' is an input"),
    ({"inputs": ["1", "1"], "neurons": {"3": {"weights": {"1": 1}}}}, r"given twice: '1'"),
    (_doc(**{"3": {"weights": {}}}), r"neuron '3': needs weights"),
    (_doc(**{"3": {"weights": {"1": "x"}}}), r"weight from '1' must be a number"),
    (_doc(**{"3": {"weights": {"1": 1}, "activation": "softmax"}}), r"couples several neurons"),
    (_doc(**{"3": {"weights": {"1": 1}, "activation": "bogus(z)"}}), r"neuron '3'.*bogus"),
    (_doc(**{"3": {"weights": {"1": 1}, "wieghts": 2}}), r"unknown key"),
    ({"inputs": ["1"], "outputs": ["7"], "neurons": {"3": {"weights": {"1": 1}}}}, r"unknown output"),
])
def test_file_errors_name_the_neurons(doc, match):
    with pytest.raises(DeltapropError, match=match):
        netfile.graph_from_dict(doc, source="net.toml")


def test_neuron_given_twice_in_toml(tmp_path):
    f = tmp_path / "twice.toml"
    f.write_text('inputs = ["1"]\n[neurons."2"]\nweights = { "1" = 1.0 }\n[neurons."2"]\nweights = { "1" = 2.0 }\n')
    with pytest.raises(DeltapropError, match="twice|declare"):
        netfile.load(f)


def test_missing_sample_value():
    doc = {"inputs": ["1", "2"], "neurons": {"3": {"weights": {"1": 1, "2": 1}}},
           "sample": {"x": {"1": 0.5}, "t": {"3": 1.0}}}
    net = netfile.graph_from_dict(doc, source="s.toml")
    with pytest.raises(DeltapropError, match="missing a value for neuron '2'"):
        netfile.sample(doc, net)
    doc["sample"] = {"x": {"1": 0.5, "2": 1}}
    with pytest.raises(DeltapropError, match=r"\[sample\]"):
        netfile.sample(doc, net)


def test_levels_of_a_deep_chain():
    n = 300  # a chain: one neuron per level; levels come from whole frontiers, not recursion
    ids = [str(k) for k in range(n)]
    net = graph.GraphNetwork(ids[:1], ids[1:], ids[:-1], ids[1:], np.full(n - 1, 0.9), None, "tanh")
    assert len(net.levels) == n - 1
    X = np.array([[0.5]])
    g = net.loss_and_grads(X, [[0.1]])
    assert np.isfinite(g.cost)
