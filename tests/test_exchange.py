"""Model exchange: ONNX (onnxruntime as the oracle), PyTorch (its own forward pass and autograd), safetensors
bit for bit, TOML; and every bad input one line, exit status 2, nothing written."""

import contextlib
import io
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.interop import exchange, onnx_export

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "square"]


def cli(*args):
    """The command in this process (as `deltaprop …` runs it): (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def model_with(hidden: str, task: str, dtype="float64", seed=0, sizes=(5, 7, 6)):
    """A model with random weights and a non-trivial standardization (as training leaves it)."""
    rng = np.random.default_rng(seed)
    n_out = 3 if task == "classification" else 2
    out = "softmax" if task == "classification" else "identity"
    loss = "cross_entropy" if task == "classification" else "quadratic"
    net = dp.Network([*sizes, n_out], [hidden] * (len(sizes) - 1) + [out], loss, seed=seed, dtype=dtype,
                     b=[rng.uniform(-0.5, 0.5, n) for n in [*sizes[1:], n_out]])
    std = {"x_mean": rng.standard_normal(sizes[0]), "x_scale": rng.uniform(0.5, 3.0, sizes[0])}
    if task == "regression":
        std.update(t_mean=rng.standard_normal(n_out), t_scale=rng.uniform(0.5, 4.0, n_out))
    return exchange.model_of_network(net, std, task)


def inputs_for(model, n=200, seed=1):
    rng = np.random.default_rng(seed)
    return model.x_mean + model.x_scale * rng.standard_normal((n, model.net.sizes[0]))


def rel(a, b):
    """Largest difference relative to the largest magnitude of the reference. (Element by element, float32
    cannot promise 1e-6 for a probability near 0, nor after z² layers: one rounding in a logit of size |z|
    moves p by about p·|z|·6e-8, whichever of the two runtimes rounds.)"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# --- ONNX -----------------------------------------------------------------------------------------------------


def ort_run(onnx_model, X):
    ort = pytest.importorskip("onnxruntime")
    s = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {"X": X})))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_onnx_float32_matches_every_builtin_activation(hidden, task):
    pytest.importorskip("onnx")
    model = model_with(hidden, task, dtype="float32")
    X = inputs_for(model).astype(np.float32)
    out = ort_run(exchange.to_onnx(model), X)
    if task == "classification":
        ref = model.predict_proba(X)
        assert rel(out["probabilities"], ref) <= 1e-6
        agree = out["label"] == model.predict(X)
        assert agree.mean() > 0.99  # a tie within float32 rounding may break either way
    else:
        ref = model.output(X)
        assert rel(out["output"], ref) <= 1e-6


def test_onnx_float64_and_metadata():
    onnx = pytest.importorskip("onnx")
    model = model_with("tanh", "classification")
    m = exchange.to_onnx(model, dtype="float64")
    assert m.opset_import[0].version >= 17
    props = {p.key: p.value for p in m.metadata_props}
    assert json.loads(props["classes"]) == ["0", "1", "2"] and props["task"] == "classification"
    X = inputs_for(model)
    out = ort_run(m, X)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=1e-12, atol=1e-15)
    # the standardisation is the first step of the graph
    assert [n.op_type for n in m.graph.node[:2]] == ["Sub", "Div"]
    assert onnx.numpy_helper.to_array([i for i in m.graph.initializer if i.name.startswith("x_mean")][0]).shape == (5,)


FORMULAS = ["z**2/(1 + z**2)", "sin(z) + max(z, 0)", "heaviside(z)*z + 0.1*z", "sigmoid(2*z) - 0.5",
            "softplus(z)", "abs(z)**1.5", "erf(z)", "atan(z) + tanh(z)/2", "exp(-z**2)", "sqrt(1 + z**2) - 1",
            "cosh(z/3) + asinh(z) + sign(z)", "min(z, 1) - pi/10"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_onnx_formula_activations(formula):
    pytest.importorskip("onnx")
    model = model_with(formula, "regression", dtype="float32")
    X = inputs_for(model).astype(np.float32)
    out = ort_run(exchange.to_onnx(model), X)
    assert rel(out["output"], model.output(X)) <= 1e-6


def test_onnx_refuses_what_it_has_no_operator_for():
    pytest.importorskip("onnx")
    import sympy as sp

    from deltaprop.engine import formulas

    g = onnx_export.OnnxGraph("float32")
    with pytest.raises(dp.DeltapropError, match="ONNX has no operator for gamma"):
        exchange.formula_to_onnx(g, sp.gamma(formulas.z), "z", "gamma(z)")
    with pytest.raises(dp.DeltapropError, match="opset"):
        exchange.to_onnx(model_with("tanh", "regression"), opset=13)


# --- PyTorch --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_torch_sequential_equal_in_float64(hidden, task, tmp_path):
    torch = pytest.importorskip("torch")
    model = model_with(hidden, task)
    X = inputs_for(model)
    seq = exchange.to_torch(model)
    with torch.no_grad():
        y = seq(torch.from_numpy(X)).numpy()
    assert rel(y, model.output(X)) <= 1e-12
    # the state_dict through a safetensors file (no pickle) and back into an nn.Sequential
    path = exchange.export(model, tmp_path / "m.safetensors", "torch")
    from safetensors.torch import load_file

    assert set(load_file(path)) == set(seq.state_dict())
    with torch.no_grad():
        y2 = exchange.load_torch(path)(torch.from_numpy(X)).numpy()
    assert rel(y2, model.output(X)) <= 1e-12
    back = dp.load_model(path)
    assert rel(back.output(X), model.output(X)) <= 1e-12


def test_a_network_trained_in_torch_is_traced_here(tmp_path):
    """A Sequential trained by PyTorch's own optimizer, saved with save_torch, read by dp.load_model: equal
    outputs, and deltaprop's backprop gives PyTorch autograd's gradients."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Softplus(), nn.Linear(4, 2)).double()
    X = torch.randn(40, 3, dtype=torch.float64)
    T = torch.randn(40, 2, dtype=torch.float64)
    opt = torch.optim.Adam(seq.parameters(), lr=0.01)
    for _ in range(50):
        opt.zero_grad()
        loss = 0.5 * ((seq(X) - T) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
    path = exchange.save_torch(seq, tmp_path / "torch_model.safetensors")
    model = dp.load_model(path)
    assert model.task == "regression" and [g.name for g in model.net.activations] == ["tanh", "softplus",
                                                                                      "identity"]
    Xn, Tn = X.numpy(), T.numpy()
    assert rel(model.output(Xn), seq(X).detach().numpy()) <= 1e-12
    seq.zero_grad()
    loss = 0.5 * ((seq(X) - T) ** 2).sum(dim=1).mean()
    loss.backward()
    g = model.net.loss_and_grads(model.inputs(Xn), model.targets(Tn))
    torch_grads = [seq[0].weight.grad, seq[0].bias.grad, seq[2].weight.grad, seq[2].bias.grad,
                   seq[4].weight.grad, seq[4].bias.grad]
    for ours, theirs in zip(g.params(), torch_grads):
        assert rel(ours, theirs.numpy()) <= 1e-12
    # and as deltaprop's own model file, which every command reads
    r = cli("import", path, "-o", tmp_path / "imported.npz")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(dp.load_model(tmp_path / "imported.npz").output(Xn), model.output(Xn))
    with pytest.raises(dp.DeltapropError, match="module 1 is a GELU"):
        exchange.save_torch(nn.Sequential(nn.Linear(2, 2), nn.GELU()), tmp_path / "no.safetensors")
    assert not (tmp_path / "no.safetensors").exists()


# --- safetensors and TOML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, dtype", [("iris", "float64"), ("iris", "float32"), ("diabetes", "float64")])
def test_safetensors_round_trip_bit_for_bit(data, dtype, tmp_path):
    run = dp.fit(data, hidden=[6], epochs=3, dtype=dtype)
    model = run.model
    model.save(tmp_path / "model.npz")
    code = cli("export", tmp_path / "model.npz", "--to", "safetensors", "-o", tmp_path / "m.safetensors")
    assert code.returncode == 0, code.stderr
    back = dp.load_model(tmp_path / "m.safetensors")
    pairs = list(zip(model.net.params(), back.net.params())) + [(model.x_mean, back.x_mean),
                                                                (model.x_scale, back.x_scale)]
    if model.task == "regression":
        pairs += [(model.t_mean, back.t_mean), (model.t_scale, back.t_scale)]
    for a, b in pairs:
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == np.ascontiguousarray(b).tobytes()
    assert back.classes == model.classes and back.info == model.info
    X = dp.load_data(data).X
    assert np.array_equal(back.output(X), model.output(X))
    exchange.export(back, tmp_path / "again.safetensors")
    assert (tmp_path / "again.safetensors").read_bytes() == (tmp_path / "m.safetensors").read_bytes()


def test_toml_export_reads_back_exactly_and_gradchecks(tmp_path):
    model = model_with("tanh", "regression")
    path = exchange.export(model, tmp_path / "m.toml")
    X = inputs_for(model, 20)
    back = exchange.load_toml(path)
    assert np.array_equal(back.output(X), model.output(X))
    net = dp.load_network(path)  # the plain network file reader
    assert all(np.array_equal(a, b) for a, b in zip(net.params(), model.net.params()))
    r = cli("gradcheck", path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"]
    x = model.inputs(X[:1])[0]
    r = cli("derive", path, "--x", ",".join(map(repr, x.tolist())), "--t", "0.5,-1")  # the layered derivation
    assert r.returncode == 0, r.stderr
    assert "δ" in r.stdout


def test_toml_trace_is_the_network_on_standardized_inputs(tmp_path):
    model = model_with("sigmoid", "classification")
    path = exchange.export(model, tmp_path / "m.toml")
    x = inputs_for(model, 1)
    xs = model.inputs(x)
    r = cli("trace", path, "--x", ",".join(repr(float(v)) for v in xs[0]), "--t", "0,1,0", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    g = model.net.loss_and_grads(xs, [[0, 1, 0]])
    np.testing.assert_allclose(rep["layers"][-1]["a"], model.predict_proba(x), rtol=1e-13)
    np.testing.assert_allclose(rep["layers"][0]["grad_weights"], g.W[0], rtol=1e-13)


# --- bad input: one line, status 2, nothing written --------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    run = dp.fit("iris", hidden=[4], epochs=2)
    run.model.save(tmp_path / "model.npz")
    exchange.export(run.model, tmp_path / "model.safetensors")
    return tmp_path


def refused(r, out: Path, needle: str):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() or out.read_text() == "precious"
    assert not list(out.parent.glob(f".{out.name}.*.tmp"))


def test_wrong_kind_of_model(saved):
    out = saved / "out.onnx"
    examples = Path(__file__).resolve().parents[1] / "examples"
    refused(cli("export", examples / "exam_004.toml", "--to", "onnx", "-o", out), out, "neuron-level")
    dp.fit("iris", hidden=[4], epochs=1, out=saved / "run")
    refused(cli("export", saved / "run" / "checkpoint.npz", "--to", "torch", "-o", out), out, "checkpoint.npz")
    out.write_text("precious")  # an existing file survives a refused export
    refused(cli("export", saved / "model.npz", "--to", "onnx", "--opset", "12", "-o", out), out, "opset")


def test_formula_activation_refused_for_torch(saved):
    doc = (Path(__file__).resolve().parents[1] / "examples" / "layered_2-3-2.toml").read_text()
    net_file = saved / "formula.toml"
    net_file.write_text(doc.replace('activation = "tanh"', 'activation = "sin(z)"', 1))
    assert "sin(z)" in net_file.read_text()
    out = saved / "f.safetensors"
    refused(cli("export", net_file, "--to", "torch", "-o", out), out, "has no PyTorch module")


def _rewrite_header(path: Path, edit) -> None:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    edit(header)
    new = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n:])


def test_tampered_metadata_and_lying_headers(saved):
    src = saved / "model.safetensors"
    out = saved / "out.onnx"
    cases = {
        "sizes must be": lambda h: h["__metadata__"].update(
            deltaprop=h["__metadata__"]["deltaprop"].replace('"sizes": [4, 4, 3]', '"sizes": [4, 0, 3]')),
        "not valid UTF-8 JSON": lambda h: h["__metadata__"].update(deltaprop="{not json"),
        "unknown activation": lambda h: h["__metadata__"].update(
            deltaprop=h["__metadata__"]["deltaprop"].replace('"relu"', '"__import__(\'os\')"')),
        "the header lies": lambda h: h["W1"].update(shape=[4, 5]),
        "outside the": lambda h: h["W1"].update(data_offsets=[0, 10**9]),
        "dtype": lambda h: h["W1"].update(dtype="BOGUS"),
    }
    for needle, edit in cases.items():
        bad = saved / "bad.safetensors"
        bad.write_bytes(src.read_bytes())
        _rewrite_header(bad, edit)
        refused(cli("export", bad, "--to", "onnx", "-o", out), out, needle)
        with pytest.raises(dp.DeltapropError, match=needle.split()[0]):
            dp.load_model(bad)
    bad = saved / "short.safetensors"
    raw = src.read_bytes()
    bad.write_bytes(struct.pack("<Q", 10**12) + raw[8:])
    refused(cli("export", bad, "--to", "toml", "-o", out), out, "the header claims")
    bad.write_bytes(raw[:-8])  # truncated: the tensors no longer fit the buffer
    refused(cli("export", bad, "--to", "toml", "-o", out), out, "outside the")


def test_neuron_form_is_read_by_derive_and_agrees_with_the_layers(tmp_path):
    model = model_with("tanh", "regression", sizes=(3, 4))
    out = tmp_path / "neurons.toml"
    layered = exchange.export(model, tmp_path / "layers.toml")
    r = cli("export", layered, "--to", "toml", "--form", "neurons", "-o", out)
    assert r.returncode == 0, r.stderr
    path = out
    graph = dp.load_network(path)
    x = inputs_for(model, 1)
    xs, t = model.inputs(x), np.array([[0.3, -0.2]])
    gg = graph.loss_and_grads(xs, t)
    gl = model.net.loss_and_grads(xs, t)
    assert abs(gg.cost - gl.cost) <= 1e-13 * abs(gl.cost)
    # w_ij from neuron i of the layer below into j is W[j, i]: the graph's gradient per edge is ∂C/∂W[j, i]
    edges = {e: k for k, e in enumerate(graph.edges)}
    for l in range(model.net.L):
        below = [f"x{k + 1}" for k in range(3)] if l == 0 else [f"h1n{k + 1}" for k in range(4)]
        above = [f"h1n{j + 1}" for j in range(4)] if l == 0 else [f"o{j + 1}" for j in range(2)]
        for j, name_j in enumerate(above):
            for i, name_i in enumerate(below):
                assert abs(gg.w[edges[(name_i, name_j)]] - gl.W[l][j, i]) <= 1e-12
    r = cli("derive", path, "--wrt", "w_x1_h1n1", "--x", ",".join(map(repr, xs[0].tolist())), "--t", "0.3,-0.2",
            "--format", "json")
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(r.stdout)["value"] - gl.W[0][0, 0]) <= 1e-10
    softmax = model_with("tanh", "classification")
    with pytest.raises(dp.DeltapropError, match="softmax couples"):
        exchange.export(softmax, tmp_path / "no.toml", "toml", form="neurons")
    assert not (tmp_path / "no.toml").exists()


def test_safetensors_reader_never_crashes_on_damaged_files(tmp_path):
    """Bytes flipped, inserted or cut anywhere in a safetensors model: a model, or one clear DeltapropError."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    model = model_with("relu", "classification", sizes=(3, 4))
    good = exchange.export(model, tmp_path / "good.safetensors").read_bytes()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), min_size=1, max_size=4),
           st.integers(0, len(good)), st.booleans())
    def check(flips, cut, insert):
        data = bytearray(good)
        for i, b in flips:
            data[i] = b
        data = data[:cut] + (b"{" if insert else b"") + data[cut:] if cut < len(data) else data
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(bytes(data))
        try:
            dp.load_model(bad)
        except dp.DeltapropError:  # anything else (KeyError, struct.error, a SafetensorError, …) fails the test
            pass

    check()
