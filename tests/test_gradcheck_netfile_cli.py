"""gradcheck as a feature, the layered network-file contract, and the core CLI commands."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from conftest import rel_err

EXAMPLE = Path(__file__).parent.parent / "examples" / "layered_2-3-2.toml"


def test_gradcheck_reports_small_errors_and_catches_a_wrong_gradient(rng):
    net = dp.Network([3, 4, 2], "tanh", "cross_entropy", output="softmax", seed=3)
    X, T = rng.standard_normal((4, 3)), np.eye(2)[[0, 1, 1, 0]]
    for method in ("central", "complex"):
        report = dp.gradcheck(net, X, T, method=method)
        assert report.max_error < (1e-8 if method == "central" else 1e-13)
    # a network whose backward pass lies must fail the check
    broken = dp.Network([3, 4, 2], "tanh", "cross_entropy", output="softmax", seed=3)
    original = broken.backward

    def wrong_backward(trace, T, grads=None, **kw):
        g = original(trace, T, grads, **kw)
        g.W[0] *= 1.01
        return g

    broken.backward = wrong_backward
    broken.astype = lambda dtype: broken
    assert dp.gradcheck(broken, X, T, method="central").errors["W1"] > 1e-3


def test_complex_step_refused_for_relu(rng):
    net = dp.Network([2, 3, 1], "relu", output="identity")
    with pytest.raises(dp.DeltapropError, match="analytic"):
        dp.gradcheck(net, rng.standard_normal((2, 2)), rng.standard_normal((2, 1)), method="complex")


def write(tmp_path, text, name="net.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_layered_file_round_trip(tmp_path):
    net = dp.load_network(EXAMPLE)
    assert net.sizes == [3, 4, 2] and [g.name for g in net.activations] == ["tanh", "softmax"]
    np.testing.assert_array_equal(net.W[0][3], [1.0, 0.0, -1.0])
    assert net.W[1].shape == (2, 4) and net.loss.name == "cross_entropy" and net.reduction == "mean"
    # weights not given come from [init]: the same seed gives the same weights
    assert np.array_equal(dp.load_network(EXAMPLE).W[1], net.W[1])


@pytest.mark.parametrize("text,message", [
    ("[[layer]]\nsize = 2\n", "missing key 'inputs'"),
    ("inputs = 2\n[[layer]]\nactivation = 'tanh'\n", "layer 1: missing key 'size'"),
    ("inputs = 2\n[[layer]]\nsize = 2\nweights = [[1, 2, 3], [4, 5, 6]]\n", r"layer 1 weights must have shape \(2, 2\)"),
    ("inputs = 2\n[[layer]]\nsize = 2\nbias = [1]\n", r"layer 1 bias must have shape \(2,\)"),
    ("inputs = 2\n[[layer]]\nsize = 0\n", "size must be an integer ≥ 1"),
    ("inputs = 2\n[[layer]]\nsize = 1\n[loss]\nname = 'quadratic'\nreduction = 'median'\n", "reduction"),
    ("inputs = 2\n[[layer]]\nsize = 1\n[loss]\nname = 'gaussian_nll'\nsigma2 = -1.0\n", "sigma2"),
    ("inputs = 2\n[[layer]\nsize = 1\n", "invalid TOML"),
    ("inputs = 2\n", "nothing to build"),
])
def test_file_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(dp.DeltapropError, match=message):
        dp.load_network(write(tmp_path, text))


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_json_matches_pytorch(tmp_path, capsys, rng):
    oracle = pytest.importorskip("torch_oracle")
    X, T = rng.standard_normal((5, 3)), np.eye(2)[rng.integers(0, 2, 5)]
    np.savez(tmp_path / "d.npz", X=X, T=T)
    code, out, _ = run_cli(["trace", EXAMPLE, "--data", tmp_path / "d.npz", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    net = dp.load_network(EXAMPLE)
    C, dW, db, _ = oracle.grads(net.W, net.b, ["tanh", "softmax"], "cross_entropy", X, T)
    assert report["loss"] == pytest.approx(C, rel=1e-12)
    for l, layer in enumerate(report["layers"]):
        assert np.shape(layer["z"]) == (5, net.sizes[l + 1]) == np.shape(layer["delta"])
        assert rel_err(layer["grad_weights"], dW[l]) <= 1e-10
        assert rel_err(layer["grad_bias"], db[l]) <= 1e-10
    # δ is per sample: the batch gradient of the bias is the mean of the output δ rows
    np.testing.assert_allclose(np.mean(report["layers"][1]["delta"], axis=0), report["layers"][1]["grad_bias"])


def test_trace_single_sample_flags_and_tables(capsys):
    code, out, _ = run_cli(["trace", EXAMPLE, "--x", "0.5,-1,2", "--t", "0,1"], capsys)
    assert code == 0 and "layer 2 (softmax)" in out and "δᴸ = a − t" in out
    code, out, _ = run_cli(["trace", EXAMPLE, "--x", "0.5,-1,2", "--t", "0,1", "--json"], capsys)
    from_flags = json.loads(out)
    code, out, _ = run_cli(["trace", EXAMPLE, "--json"], capsys)  # the file's own [sample] is the same sample
    assert json.loads(out) == from_flags


@pytest.mark.parametrize("args,message", [
    (["trace", "missing.toml"], "missing.toml"),
    (["trace", EXAMPLE, "--x", "1,2", "--t", "0,1"], r"X must have shape \(N, 3\)"),
    (["trace", EXAMPLE, "--x", "1,a,2", "--t", "0,1"], "--x must be comma-separated numbers"),
    (["trace", EXAMPLE, "--x", "1,2,3"], "--x and --t go together"),
    (["gradcheck", EXAMPLE, "--method", "bogus"], "invalid choice"),
])
def test_cli_errors_are_one_line_with_status_2(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2 or code is None
    assert err.count("\n") == 1 and "Traceback" not in err
    assert pytest.importorskip("re").search(message, err)


def test_cli_error_exit_status_in_a_real_process(tmp_path):
    bad = write(tmp_path, "inputs = 2\n[[layer]]\nsize = 2\nweights = [[1, 2, 3]]\n")
    proc = subprocess.run([sys.executable, "-m", "deltaprop", "trace", str(bad), "--x", "1,2", "--t", "0,1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("deltaprop: error:") and proc.stderr.count("\n") == 1
    assert "weights must have shape (2, 2)" in proc.stderr


def test_gradcheck_command(capsys):
    code, out, _ = run_cli(["gradcheck", EXAMPLE, "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["method"] == "complex" and report["max_error"] < 1e-12
    assert set(report["errors"]) == {"W1", "b1", "W2", "b2"}


def test_gradcheck_of_a_neuron_file_without_a_sample(tmp_path, capsys):
    exam = (Path(__file__).parent.parent / "examples" / "exam_004.toml").read_text()
    no_sample = write(tmp_path, exam.split("[sample]")[0])
    code, out, _ = run_cli(["gradcheck", no_sample, "--json", "--samples", "3"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and set(report["errors"]) == {"w", "b"}


def test_gradcheck_refuses_a_batch_where_the_loss_is_undefined(capsys):
    code, _, err = run_cli(["gradcheck", Path(__file__).parent.parent / "examples" / "exam_004.toml",
                            "--x", "0.7,-1.2", "--t", "-1.5"], capsys)
    assert code == 2 and ("undefined" in err or "> 0" in err)


def test_output_into_a_closed_pipe_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m deltaprop trace {EXAMPLE} | head -c 10 >/dev/null", shell=True,
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "error" not in proc.stderr
