"""Issue 6's promises, end to end: bad data and hostile files are one line and status 2 with nothing run;
divergence keeps the checkpoint and metrics; SIGKILL at random moments never leaves a run directory corrupt and
resuming ends with the weights of an uninterrupted run, bit for bit; SIGINT saves a checkpoint and exits 130."""

import csv
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main

sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
import targets  # noqa: E402
from conftest import one_line_error  # noqa: E402

SRC = str(Path(__file__).parent.parent / "src")




# --- bad data ------------------------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(targets.sample_model_bytes())  # inputs a, b, c; classes no, yes
    return path


@pytest.mark.parametrize("text,needles", [
    ("a,b,c,y\n1,2,3,no\n1,2,,yes\n", ["row 3", "'c'", "not a number"]),
    ("a,b,c,y\n1,2,3,no\n1,inf,3,yes\n", ["row 3", "'b'", "NaN and Inf"]),
    ("a,b,c,y\n1,2,3,no\n1,2,3\n", ["row 3 has 3 cells"]),
    ("a,b,c,y\n", ["no data rows"]),
    ("", ["empty file"]),
    ("a,b,y\n1,2,no\n1,2,yes\n", ["2 input columns", "takes 3"]),
    ("a,b,c,y\n1,2,3,no\n1,2,3,maybe\n", ["'maybe'", "not classes of the model"]),
])
def test_evaluate_refuses_bad_data_in_one_line(tmp_path, capsys, model_file, text, needles):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    assert main(["evaluate", str(model_file), "--data", str(bad)]) == 2
    one_line_error(capsys, "bad.csv", *needles)


@pytest.mark.parametrize("loss,output,values,needles", [
    ("itakura_saito", "softplus", [1.0, 2.0, 0.0, 3.0], ["row 4", "targets > 0"]),
    ("binary_cross_entropy", "sigmoid", [0.1, 1.5, 0.5, 0.2], ["row 3", "[0, 1]"]),
    ("cross_entropy", "softmax", [0.5, 0.2, 1.0, 0.4], ["row 2", "summing to 1"]),
])
def test_train_refuses_targets_outside_the_loss_domain(tmp_path, capsys, loss, output, values, needles):
    path = tmp_path / "t.csv"
    rows = [[i, v] for i, v in enumerate(values * 3)]
    path.write_text("x,t\n" + "".join(f"{x},{t}\n" for x, t in rows))
    args = ["train", "--data", str(path), "--task", "regression", "--loss", loss, "--output", output,
            "--out", str(tmp_path / "r"), "--quiet", "--epochs", "1"]
    assert main(args) == 2
    one_line_error(capsys, "t.csv", *needles)


def test_positive_targets_train_with_itakura_saito(tmp_path):
    # regression targets are standardized only for losses defined on all of ℝ: a shift would make some t ≤ 0
    X = np.linspace(-1, 1, 40)[:, None]
    run = dp.fit((X, np.exp(X)), task="regression", loss="itakura_saito", output="softplus", hidden=[4],
                 epochs=3, activation="tanh")
    assert np.isfinite(run.metrics["train_loss"])


def test_api_names_the_problem():
    X = np.ones((6, 2))
    with pytest.raises(dp.DeltapropError, match="row 3, column 2 is nan"):
        dp.fit((np.where(np.arange(12).reshape(6, 2) == 5, np.nan, X), np.arange(6) % 2))
    with pytest.raises(dp.DeltapropError, match="X has 6 rows but T has 4"):
        dp.fit((X, np.ones((4, 2))))
    with pytest.raises(dp.DeltapropError, match="rectangular"):
        dp.fit(([[1, 2], [3]], [0, 1]))


def test_evaluate_and_predict_api_refuse_bad_labels_and_inputs(tmp_path, model_file):
    model = dp.load_model(model_file)
    X = np.zeros((3, 3))
    with pytest.raises(dp.DeltapropError, match="label 2 in row 3 is not a class index"):
        dp.evaluate(model, X, np.array([0, 1, 2]))
    with pytest.raises(dp.DeltapropError, match="row 2 has targets"):
        dp.evaluate(model, X, np.array([[1.0, 0.0], [0.7, 0.7], [0.0, 1.0]]))
    with pytest.raises(dp.DeltapropError, match="has 2 columns; expected 3"):
        dp.predict(model, np.zeros((3, 2)))
    with pytest.raises(dp.DeltapropError, match="row 1, column 3 is inf"):
        dp.predict(model, [[0, 0, np.inf]])


def test_predict_needs_the_model_columns_by_name(tmp_path, capsys, model_file):
    path = tmp_path / "in.csv"
    path.write_text("a,b,z\n1,2,3\n")
    assert main(["predict", str(model_file), str(path)]) == 2
    one_line_error(capsys, "in.csv", "missing c")


# --- hostile model files: exit 2, one line, nothing runs -------------------------------------------------------


class _Payload:
    """Unpickling this creates the file it names: the proof that a loader ran code from a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return path


def _npy(header: str, data: bytes = b"") -> bytes:
    head = header.encode("latin1")
    head += b" " * (63 - (len(head) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + data


def hostile_files(tmp_path: Path, marker: Path) -> dict[str, tuple[Path, str]]:
    valid = targets.sample_model_bytes()
    with np.load(io.BytesIO(valid)) as f:
        arrays = {k: f[k] for k in f.files}
    pickled = io.BytesIO()
    np.save(pickled, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    files = {}

    def add(name, content, needle):
        path = tmp_path / name
        path.write_bytes(content)
        files[name] = (path, needle)

    def add_npz(name, changed, needle):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, **changed})
        add(name, buf.getvalue(), needle)

    def meta(text: bytes):
        return {"meta": np.frombuffer(text, np.uint8)}

    add("random.npz", np.random.default_rng(0).bytes(3000), "not a model file")
    add("truncated.npz", valid[: len(valid) // 2], "not a model file")
    add("empty.npz", b"", "not a model file")
    _zip(tmp_path / "pickle.npz", {"meta.npy": pickled.getvalue()})
    files["pickle.npz"] = (tmp_path / "pickle.npz", "pickled Python objects")
    _zip(tmp_path / "pickle_raw.npz", {"meta.pkl": pickle.dumps(_Payload(marker))})
    files["pickle_raw.npz"] = (tmp_path / "pickle_raw.npz", "not an .npy array")
    _zip(tmp_path / "huge.npz", {"W1.npy": _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000000), }")})
    files["huge.npz"] = (tmp_path / "huge.npz", "declares shape (100000, 100000000)")
    add_npz("wrong_shape.npz", {"W1": np.zeros((5, 5))}, "W1 must be a float array of shape (4, 3)")
    add_npz("nan_weights.npz", {"b1": np.full(4, np.nan)}, "b1 contains NaN")
    add_npz("strings.npz", {"x_mean": np.array(["a", "b", "c"])}, "numbers only")
    add_npz("huge_sizes.npz", meta(json.dumps({**json.loads(arrays["meta"].tobytes()), "network": {
        "sizes": [3, 10**9, 2], "activations": ["tanh", "softmax"], "loss": "cross_entropy"}}).encode()),
        "network sizes must be")
    add_npz("not_object.npz", meta(b"[1, 2, 3]"), "must be a JSON object")
    add_npz("nested.npz", meta(b"[" * 100000 + b"]" * 100000), "nested too deeply")
    add_npz("not_utf8.npz", meta(b'{"format": "\xff\xfe"}'), "UTF-8")
    add_npz("big_int.npz", meta(b'{"format": ' + b"9" * 5000 + b"}"), "not valid UTF-8 JSON")
    add_npz("bad_info.npz", meta(json.dumps({**json.loads(arrays["meta"].tobytes()),
                                             "info": {"seed": "zero"}}).encode()), "info 'seed'")
    os.mkfifo(tmp_path / "fifo.npz")
    files["fifo.npz"] = (tmp_path / "fifo.npz", "not a regular file")
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    files["zero.npz"] = (tmp_path / "zero.npz", "not a regular file")
    return files


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_hostile_model_files_are_refused_and_nothing_runs(tmp_path, capsys, command):
    marker = tmp_path / "PWNED"
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,y\n1,2,3,no\n4,5,6,yes\n")
    files = hostile_files(tmp_path, marker)
    assert len(files) == 17
    for name, (path, needle) in files.items():
        args = ["evaluate", str(path), "--data", str(data)] if command == "evaluate" else ["predict", str(path),
                                                                                          str(data)]
        assert main(args) == 2, name
        one_line_error(capsys, name, needle)
        assert not marker.exists(), f"{name} ran code"
    pickle.loads(pickle.dumps(_Payload(marker)))  # the payload is live: unpickling it does create the file
    assert marker.exists()


# --- divergence ---------------------------------------------------------------------------------------------


def test_divergence_names_epoch_and_batch_and_keeps_the_work(tmp_path, capsys):
    out = tmp_path / "run"
    # epoch 1 is fine at a small rate; "epochs" then changes nothing but the rate would: use the step schedule
    # backwards (gamma > 1) so the rate grows ×10⁶ per epoch until the loss overflows
    args = ["train", "--data", "iris", "--hidden", "8", "--optimizer", "sgd", "--lr", "0.01", "--schedule", "step",
            "--step-size", "1", "--gamma", "1e6", "--epochs", "20", "--early-stopping", "0", "--out", str(out),
            "--checkpoint-every", "1", "--quiet"]
    assert main(args) == 2
    line = one_line_error(capsys, "training diverged in epoch", "batch", "smaller learning rate", str(out))
    epoch = int(line.split("epoch ")[1].split(",")[0])
    assert epoch >= 2
    history = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == list(range(1, epoch))
    with np.load(out / "checkpoint.npz", allow_pickle=False) as f:
        state = json.loads(f["meta"].tobytes())["state"]
        assert state["epoch"] == epoch - 1 and all(np.all(np.isfinite(f[k])) for k in ("W1", "b1", "W2", "b2"))


# --- SIGKILL at random moments, SIGINT ---------------------------------------------------------------------------


def tiny_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "y"])
        w.writerows([[*x, "p" if x[0] + x[1] > 0 else "n"] for x in X])
    return path


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "deltaprop", *args]


ENV = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def train_cmd(data: Path, out: Path) -> list[str]:
    # many tiny epochs: each writes metrics.jsonl and a checkpoint, so kills land in every phase of the loop
    return cli("train", "--data", str(data), "--hidden", "6", "--epochs", "100", "--checkpoint-every", "1", "--batch-size", "8",
               "--lr", "0.01", "--early-stopping", "0", "--out", str(out), "--quiet")


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    """The uninterrupted run, with how long the process takes to start training and to train."""
    tmp = tmp_path_factory.mktemp("whole")
    data, out = tiny_csv(tmp / "tiny.csv"), tmp / "whole"
    t0 = time.perf_counter()
    p = subprocess.Popen(train_cmd(data, out), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (out / "config.toml").exists() and p.poll() is None:
        time.sleep(0.005)
    startup = time.perf_counter() - t0
    assert p.wait() == 0, p.stderr.read().decode()
    return data, out, startup, time.perf_counter() - t0 - startup


def assert_run_dir_parses(out: Path) -> None:
    """After any kill: config.toml parses, every metrics line is JSON, the checkpoint loads and fits."""
    if not (out / "config.toml").exists():
        return
    cfg = tomllib.loads((out / "config.toml").read_text())
    if (out / "metrics.jsonl").exists():
        for line in (out / "metrics.jsonl").read_text().splitlines():
            json.loads(line)
    if (out / "checkpoint.npz").exists():
        from deltaprop.training import config, runs, train

        net = dp.Network([3, *cfg["hidden"], 2], cfg["activation"], cfg["loss"], output=cfg["output"], seed=0)
        runs.load_checkpoint(out / "checkpoint.npz", net, train.optimizer_for(config.config_from(cfg)),
                             runs.LoopState(np.random.default_rng(0)), 42)  # 60 samples − 20 % test − 10 % val


def final_weights(out: Path) -> dict:
    with np.load(out / "model.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k[0] in "Wb"}


KILLS = 15


def epochs_done(out: Path) -> int:
    try:
        return (out / "metrics.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path, whole_run):
    data, whole, startup, work = whole_run
    out = tmp_path / "killed"
    rng = np.random.default_rng(6)
    cmd, kills, mid_training = train_cmd(data, out), 0, 0
    # Where each kill lands is set by the run's progress, not by the clock alone, so a loaded machine (slower
    # start-up, slower epochs) moves the kills in time but not out of the run: the first few at random moments
    # of start-up, the others a random fraction of an epoch after a random epoch, in order through the run.
    n_startup = 3
    targets_ = np.sort(rng.uniform(1, 97, KILLS - n_startup))
    per_epoch = work / 100
    for attempt in range(KILLS):
        p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if attempt < n_startup:
            deadline = time.monotonic() + rng.uniform(0.3, 1.0) * startup
            while time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.002)
        else:
            target = targets_[attempt - n_startup]
            while epochs_done(out) < int(target) and p.poll() is None:
                time.sleep(0.002)
            time.sleep((target - int(target)) * per_epoch)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
        else:
            assert p.returncode == 0, p.stderr.read().decode()
            break  # finished before the kill: the remaining kills would have nothing to hit
        assert_run_dir_parses(out)
        mid_training += (out / "checkpoint.npz").exists()
        # until config.toml is written there is nothing to resume: start again as a user would
        cmd = cli("train", "--resume", str(out), "--quiet") if (out / "config.toml").exists() else cmd
    if kills:
        subprocess.run(cmd, env=ENV, check=True, capture_output=True)
    assert kills >= KILLS // 2, f"only {kills} kills: the run finished too early to test"
    assert mid_training >= 3, f"only {mid_training} of {kills} kills hit the training loop"
    a, b = final_weights(whole), final_weights(out)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert [json.loads(s)["train_loss"] for s in (out / "metrics.jsonl").read_text().splitlines()] == \
        [json.loads(s)["train_loss"] for s in (whole / "metrics.jsonl").read_text().splitlines()]


def test_sigint_saves_a_checkpoint_exits_130_and_resume_matches(tmp_path, whole_run):
    data, whole, _, _ = whole_run
    out = tmp_path / "run"
    p = subprocess.Popen(train_cmd(data, out), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (out / "checkpoint.npz").exists() and p.poll() is None:  # well inside the training loop
        time.sleep(0.005)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read().decode()
    assert p.wait() == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted in epoch" in lines[0] and "--resume" in lines[0], err
    assert_run_dir_parses(out)
    subprocess.run(cli("train", "--resume", str(out), "--quiet"), env=ENV, check=True, capture_output=True)
    a, b = final_weights(whole), final_weights(out)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_repairs_a_torn_metrics_line_and_removes_temporary_files(tmp_path):
    data = tiny_csv(tmp_path / "tiny.csv")
    settings = dict(hidden=[6], epochs=6, batch_size=8, lr=0.01, early_stopping=0)
    dp.fit(str(data), out=tmp_path / "whole", **settings)
    out = tmp_path / "run"
    dp.fit(str(data), out=out, stop_after_epoch=3, **settings)
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 4, "train_lo')  # as if the disk filled mid-line
    run_id = json.loads((out / "run.json").read_text())["id"]  # a kill mid-write leaves the run's own temp file
    (out / f".checkpoint.npz.{run_id}-0badc0de.tmp").write_bytes(b"half a checkpoint")
    dp.resume(out)
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(1, 7))
    assert not list(out.glob(".*.tmp"))
    assert all(np.array_equal(a, b) for a, b in zip(final_weights(tmp_path / "whole").values(),
                                                    final_weights(out).values()))


def test_a_damaged_checkpoint_is_one_line(tmp_path, capsys):
    data = tiny_csv(tmp_path / "tiny.csv")
    out = tmp_path / "run"
    dp.fit(str(data), out=out, hidden=[6], epochs=4, stop_after_epoch=2, early_stopping=0)
    ckpt = (out / "checkpoint.npz").read_bytes()
    (out / "checkpoint.npz").write_bytes(ckpt[: len(ckpt) // 3])
    assert main(["train", "--resume", str(out)]) == 2
    one_line_error(capsys, "checkpoint.npz", "not a checkpoint file")
