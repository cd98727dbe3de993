"""One protocol, two engines: both keep it, both refuse the same bad inputs the same way, and one [sample]
reader serves both file forms. The engine wing imports nothing above it (no graph <-> netfile circle)."""

import ast
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.engine import protocol
from deltaprop.errors import DeltapropError
from deltaprop.explain import trace
from deltaprop.files import netfile

from conftest import fd_param_grads, rel_err

SRC = Path(__file__).resolve().parents[1] / "src" / "deltaprop"
W1, B1 = [[0.5, -0.4], [0.3, 0.8], [-0.6, 0.1]], [0.1, -0.2, 0.05]
W2, B2 = [[0.7, -0.5, 0.2]], [0.3]


def layered_doc(**extra) -> dict:
    return {"inputs": 2, "layer": [{"size": 3, "activation": "tanh", "weights": W1, "bias": B1},
                                   {"size": 1, "activation": "sigmoid", "weights": W2, "bias": B2}], **extra}


def graph_doc(**extra) -> dict:
    """The same 2-3-1 network, neuron by neuron: w_ij from i into j is W[j][i]."""
    neurons = {f"h{j}": {"activation": "tanh", "bias": B1[j], "weights": {f"x{k}": W1[j][k] for k in range(2)}}
               for j in range(3)}
    neurons["o"] = {"activation": "sigmoid", "bias": B2[0], "weights": {f"h{k}": W2[0][k] for k in range(3)}}
    return {"inputs": ["x0", "x1"], "neurons": neurons, **extra}


def both(**extra):
    return netfile.from_dict(layered_doc(**extra)), netfile.from_dict(graph_doc(**extra))


def test_both_engines_keep_the_protocol():
    for net in both():
        assert isinstance(net, protocol.Engine)
        assert (net.n_inputs, net.n_outputs) == (2, 1)
        g = net.loss_and_grads(np.array([[0.3, -0.7]]), np.array([[0.4]]))
        assert isinstance(g, protocol.Gradients)
        assert [a.shape for a in g.params()] == [p.shape for p in net.params()]


def test_protocol_gradients_against_finite_differences():
    """Through the protocol only: the gradient of each engine against central differences of its cost."""
    X, T = np.array([[0.3, -0.7], [1.1, 0.2]]), np.array([[0.4], [0.9]])
    for net in both():
        g = net.loss_and_grads(X, T)
        for (name, _), gb, gn in zip(protocol.named_params(net), g.params(), fd_param_grads(net, X, T)):
            assert rel_err(gb, gn) < 1e-8, name


def test_get_and_set_params_round_trip():
    for net in both():
        X, T = np.array([[0.3, -0.7]]), np.array([[0.4]])
        saved, c0 = protocol.get_params(net), net.cost(X, T)
        protocol.set_params(net, [np.zeros_like(p) for p in saved])
        assert net.cost(X, T) == pytest.approx(0.5 * (0.5 - 0.4) ** 2)  # every z = 0: a = σ(0) = 1/2
        protocol.set_params(net, saved)
        assert net.cost(X, T) == c0
        with pytest.raises(DeltapropError, match="parameter arrays"):
            protocol.set_params(net, saved[:1])


@pytest.mark.parametrize("X,T,match", [
    (np.array([["a", "b"]]), [[0.4]], r"X must hold numbers"),
    ([[1.0, 2.0, 3.0]], [[0.4]], r"X must have shape \(N, 2\).*got \(1, 3\)"),
    (np.zeros((1, 1, 2)), [[0.4]], r"X must have shape \(N, 2\)"),
    ([[1.0, 2.0]], np.array([["0.4"]]), r"T must hold numbers"),
    ([[1.0, 2.0]], [[0.4, 0.1]], r"T must have shape \(1, 1\).*got \(1, 2\)"),
    ([[1.0, 2.0], [0.0, 1.0]], [[0.4]], r"T must have shape \(2, 1\)"),
])
def test_both_engines_refuse_the_same_bad_batches(X, T, match):
    for net in both():
        with pytest.raises(DeltapropError, match=match):
            net.loss_and_grads(X, T)


@pytest.mark.parametrize("settings,match", [
    (dict(dtype="float16"), r"dtype must be float64 or float32"),
    (dict(reduction="median"), r"reduction must be 'mean' or 'sum'"),
    (dict(loss="bogus"), r"bogus"),
])
def test_both_engines_refuse_the_same_bad_settings(settings, match):
    for build in (lambda: dp.Network([2, 3, 1], **settings),
                  lambda: dp.GraphNetwork(["x"], ["y"], ["x"], ["y"], [1.0], **settings)):
        with pytest.raises(DeltapropError, match=match):
            build()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "text"])
def test_both_engines_refuse_the_same_bad_weights(bad):
    with pytest.raises(DeltapropError, match="NaN or Inf|not a numeric array"):
        dp.Network([1, 1], W=[[[bad]]], b=[[0.0]])
    with pytest.raises(DeltapropError, match="NaN or Inf|not a numeric array"):
        dp.GraphNetwork(["x"], ["y"], ["x"], ["y"], [bad])


def test_one_sample_reader_for_both_forms():
    x, t = [0.3, -0.7], [0.4]
    lay, gra = (netfile.sample(doc, netfile.from_dict(doc)) for doc in
                (layered_doc(sample={"x": x, "t": t}), graph_doc(sample={"x": {"x1": -0.7, "x0": 0.3}, "t": t})))
    for s in (lay, gra):
        assert s.X.tolist() == [x] and s.T.tolist() == [t]
    assert netfile.sample(layered_doc(), netfile.from_dict(layered_doc())) is None


@pytest.mark.parametrize("sample,match", [
    ({"x": [0.3]}, r"\[sample\] needs both x and t"),
    ({"x": [0.3], "t": [0.4]}, r"\[sample\] x has 1 values for 2 inputs"),
    ({"x": [0.3, -0.7], "t": [0.4, 0.5]}, r"\[sample\] t has 2 values for 1 outputs"),
    ({"x": [0.3, "a"], "t": [0.4]}, r"\[sample\] x value .* must be a number"),
    ({"x": [0.3, float("nan")], "t": [0.4]}, r"\[sample\] x value (2|for 'x1') must be finite"),
    ({"x": [0.3, 10**400], "t": [0.4]}, r"\[sample\] x value (2|for 'x1') is too large"),
    ({"x": 0.3, "t": [0.4]}, r"\[sample\] x must be a list"),
])
def test_one_sample_reader_refuses_the_same_way_for_both_forms(sample, match):
    for doc in (layered_doc(sample=sample), graph_doc(sample=sample)):
        with pytest.raises(DeltapropError, match=match):
            netfile.sample(doc, netfile.from_dict(doc), "f.toml")


def test_read_gives_the_network_and_its_sample(tmp_path):
    f = tmp_path / "net.toml"
    f.write_text('inputs = ["x"]\n[neurons.y]\nweights = { x = 2.0 }\nactivation = "identity"\n'
                 '[sample]\nx = { x = 1.5 }\nt = { y = 1.0 }\n')
    read = dp.read_network(f)
    assert isinstance(read.network, dp.GraphNetwork) and read.source == str(f)
    assert read.sample.X.tolist() == [[1.5]] and read.sample.T.tolist() == [[1.0]]
    assert netfile.read(f, with_sample=False).sample is None


def test_the_two_trace_reports_agree_on_one_network():
    X, T = np.array([[0.3, -0.7]]), np.array([[0.4]])
    lay, gra = (trace.report(net, X, T, lr=0.5) for net in both())
    assert lay["loss"] == pytest.approx(gra["loss"], rel=1e-14)
    for j in range(3):
        assert lay["layers"][0]["delta"][0][j] == pytest.approx(gra["neurons"][f"h{j}"]["delta"], rel=1e-12)
        for k in range(2):
            assert lay["layers"][0]["updated_weights"][j][k] == pytest.approx(
                gra["weights"][f"x{k}->h{j}"]["updated"], rel=1e-12)
    assert lay["layers"][1]["grad_bias"][0] == pytest.approx(gra["biases"]["o"]["grad"], rel=1e-12)


def test_the_engine_wing_imports_nothing_above_it():
    """Dependencies point down: engine/ may use checks and errors, never files, explain, training or cli."""
    above = {"files", "explain", "training", "data", "view", "cli", "interop"}
    for path in (SRC / "engine").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                assert node.module.split(".")[0] not in above, f"{path.name} imports {node.module}"


@pytest.mark.parametrize("text", [
    "inputs = 2\n[[layer]]\nsize = 1\n",
    'inputs = ["x"]\n[neurons.y]\nweights = { x = 1.0 }\n',
])
@pytest.mark.parametrize("command", ["trace", "derive"])
def test_no_batch_is_one_line_for_both_forms(tmp_path, capsys, text, command):
    from deltaprop.cli import main

    f = tmp_path / "net.toml"
    f.write_text(text)
    args = [command, str(f)] + (["--wrt", "w_x_y"] if command == "derive" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no batch" in err and "[sample]" in err and str(f) in err
