"""Backprop on a trained model: `deltaprop trace MODEL.npz`, `gradcheck MODEL.npz`, `dp.trace(model, x, t)`,
in the model's own units, agreeing with `trace` of the exported TOML and with finite differences."""

import contextlib
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

import deltaprop as dp
from conftest import fd_param_grads, rel_err
from deltaprop.cli import main
from deltaprop.interop import exchange


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def csv(v) -> str:
    return ",".join(repr(float(x)) for x in np.ravel(v))


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "iris"
    dp.fit("iris", hidden=[5], activation="tanh", epochs=15, out=out, dtype="float64")
    return out / "model.npz"


def test_trace_of_a_model_agrees_with_trace_of_its_toml(iris_run, tmp_path):
    model = dp.load_model(iris_run)
    x = np.array([[5.9, 3.0, 4.2, 1.5]])
    r = cli("trace", iris_run, "--x", csv(x), "--t", model.classes[1], "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    # step 0: the standardisation, computed here from the stored statistics
    xs = (x - model.x_mean) / model.x_scale
    np.testing.assert_allclose(rep["standardize"]["x_standardized"], xs, rtol=1e-15)
    assert rep["standardize"]["t"] == [[0.0, 1.0, 0.0]]
    # the exported network file traced on x̃ gives the same numbers, layer by layer
    toml = tmp_path / "model.toml"
    assert cli("export", iris_run, "--to", "toml", "-o", toml).returncode == 0
    r2 = cli("trace", toml, "--x", csv(rep["standardize"]["x_standardized"]), "--t", "0,1,0", "--json")
    assert r2.returncode == 0, r2.stderr
    rep2 = json.loads(r2.stdout)
    assert rep2["loss"] == pytest.approx(rep["loss"], rel=1e-14)
    for a, b in zip(rep["layers"], rep2["layers"]):
        for key in ("z", "a", "delta", "grad_weights", "grad_bias"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-13, atol=1e-16)
    # and the gradients are those of the cost by central differences (an oracle apart from backprop)
    Xs, Ts = model.inputs(x), model.targets([[0, 1, 0]])
    fd = fd_param_grads(model.net, Xs, Ts)
    ours = [g for layer in rep["layers"] for g in (layer["grad_weights"], layer["grad_bias"])]
    for g, f in zip(ours, fd):
        assert rel_err(g, f) < 1e-7
    # the output, in the model's terms
    np.testing.assert_allclose(rep["model"]["output"], model.predict_proba(x), rtol=1e-15)
    assert rep["model"]["predicted"][0] == model.classes[int(np.argmax(model.predict_proba(x)))]
    # dp.trace from Python is the same report
    py = dp.trace(model, x, [[0, 1, 0]])
    assert py["loss"] == rep["loss"] and py["layers"][0]["delta"] == rep["layers"][0]["delta"]


def test_neurons_show_true_equations(iris_run):
    model = dp.load_model(iris_run)
    r = cli("trace", iris_run, "--data", "iris", "--row", "77", "--neurons", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    ds = dp.load_data("iris")
    np.testing.assert_array_equal(rep["standardize"]["x"], ds.X[76:77])
    hidden, out = rep["per_neuron"]
    for j, n in enumerate(hidden):
        # δ_j = σ′(z_j) Σ_k W[k, j] δ_k, each term as displayed, and σ′ = 1 − tanh² of the displayed z
        assert n["sigma_prime"] == pytest.approx(1 - np.tanh(n["z"]) ** 2, rel=1e-12)
        assert n["sigma_prime"] * sum(t["w"] * t["delta"] for t in n["terms"]) == pytest.approx(n["delta"], rel=1e-12)
        assert n["delta"] == pytest.approx(rep["layers"][0]["delta"][0][j], rel=1e-15)
        assert [t["w"] for t in n["terms"]] == pytest.approx(model.net.W[1][:, j].tolist(), rel=0)
    for j, n in enumerate(out):  # softmax + cross-entropy: δ = a − t
        assert n["delta"] == pytest.approx(n["a"] - n["t"], abs=1e-15)
    text = cli("trace", iris_run, "--data", "iris", "--row", "77", "--neurons")
    assert text.returncode == 0 and "step 0" in text.stdout and "δ¹[1] = σ′(z¹[1])" in text.stdout


def test_regression_model_in_its_own_units(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2)) * [2.0, 0.5] + [10.0, -3.0]
    y = 100 + 20 * X[:, 0] - 7 * X[:, 1] ** 2
    run = dp.fit((X, y), hidden=[4], epochs=20, out=tmp_path / "r", dtype="float64")
    model = run.model
    r = cli("trace", tmp_path / "r" / "model.npz", "--x", "9.5,-2.8", "--t", "250", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    t_net = (250 - model.t_mean[0]) / model.t_scale[0]
    assert rep["standardize"]["t_network"][0][0] == pytest.approx(t_net, rel=1e-15)
    a = rep["layers"][-1]["a"][0][0]
    assert rep["model"]["output"][0][0] == pytest.approx(a * model.t_scale[0] + model.t_mean[0], rel=1e-15)
    assert rep["layers"][-1]["delta"][0][0] == pytest.approx(a - t_net, rel=1e-12)  # identity + quadratic
    g = cli("gradcheck", tmp_path / "r" / "model.npz", "--x", "9.5,-2.8", "--t", "250")
    assert g.returncode == 0 and "pass" in g.stdout


def test_gradcheck_of_a_model_without_a_batch(iris_run):
    r = cli("gradcheck", iris_run, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"]


def test_a_pytorch_model_is_traced(tmp_path):
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Softmax(dim=1)).double()
    path = exchange.save_torch(seq, tmp_path / "net.safetensors", classes=["no", "yes"])
    x = torch.tensor([[0.3, -1.1]], dtype=torch.float64, requires_grad=True)
    loss = -torch.log(seq(x)[0, 1])
    loss.backward()
    r = cli("trace", path, "--x", "0.3,-1.1", "--t", "yes", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(rep["layers"][0]["grad_weights"], seq[0].weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("args, needle", [
    (["--row", "3"], "--row picks a row of --data"),
    (["--x", "1,2,3,4", "--t", "tulip"], "not a class of the model"),
    (["--x", "1,2", "--t", "0"], "the model takes 4 inputs"),
    ([], "a model holds no sample"),
    (["--data", "iris", "--row", "0"], "has rows 1 to 150"),
    (["--data", "diabetes", "--row", "1"], "regression"),
])
def test_bad_batches_for_a_model(iris_run, args, needle):
    r = cli("trace", iris_run, *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_neurons_of_a_network_file_state_the_softmax_delta_truly():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "layered_2-3-2.toml"
    text = cli("trace", path, "--x", "1,2,3", "--t", "0.5,0.9", "--neurons")
    assert text.returncode == 0 and "δ_j = a_j Σ_k t_k − t_j" in " ".join(text.stdout.split())  # (rich wraps)
    rep = json.loads(cli("trace", path, "--x", "1,2,3", "--t", "0.5,0.9", "--neurons", "--json").stdout)
    for n in rep["per_neuron"][-1]:
        assert n["delta"] == pytest.approx(n["a"] * 1.4 - n["t"], rel=1e-12)
    one_hot = cli("trace", path, "--x", "1,2,3", "--t", "0,1", "--neurons")
    assert "δ_j = a_j − t_j (canonical pair)" in " ".join(one_hot.stdout.split())
