"""Issue 18: a run directory belongs to one run at a time, a resume continues only the run that was started,
files are written without following links and read without trusting their sizes, and a model file cannot make
the loader compute NaN or allocate past the limits."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main

sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
import targets  # noqa: E402

SRC = str(Path(__file__).parent.parent / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SMALL = dict(hidden=[6], epochs=4, batch_size=8, lr=0.01, early_stopping=0)


def tiny_csv(path: Path, seed: int = 0, rows: int = 60) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 3))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "y"])
        w.writerows([[*x, "p" if x[0] + x[1] > 0 else "n"] for x in X])
    return path


def weights(out: Path) -> dict:
    with np.load(out / "model.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k[0] in "Wb"}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "deltaprop", *args]


def one_line(err: str, *needles) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def wait_for(path: Path, p: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert p.poll() is None, p.stderr.read().decode()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.005)


# --- ownership ------------------------------------------------------------------------------------------------


def test_a_live_run_refuses_a_second_train_and_a_concurrent_resume(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv", rows=400), tmp_path / "run"
    train = cli("train", "--data", str(data), "--hidden", "16", "--epochs", "100000", "--batch-size", "4",
                "--early-stopping", "0", "--out", str(out), "--quiet")
    a = subprocess.Popen(train, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(out / "checkpoint.npz", a)
        for cmd in (train[:-3] + ["--seed", "7", "--out", str(out), "--quiet"], cli("train", "--resume", str(out))):
            r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
            assert a.poll() is None  # 100 000 epochs: still training
            assert r.returncode == 2, r.stderr
            one_line(r.stderr, str(out), "in use by another deltaprop process", f"pid {a.pid}")
        a.send_signal(signal.SIGINT)  # the holder stops cleanly, with a checkpoint
        assert a.wait(timeout=120) == 130, a.stderr.read().decode()
    finally:
        if a.poll() is None:
            a.kill()
    epochs = [json.loads(s)["epoch"] for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, len(epochs) + 1)) and epochs  # one line per epoch: no second writer
    assert json.loads((out / "run.json").read_text())["settings"]["seed"] == 0
    assert "seed = 0" in (out / "config.toml").read_text()


def test_two_trainings_started_together_one_wins_the_other_is_refused(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    cmds = [cli("train", "--data", str(data), "--hidden", "6", "--epochs", "5", "--seed", str(s), "--out", str(out),
                "--quiet", "--early-stopping", "0") for s in (1, 2)]
    ps = [subprocess.Popen(c, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in ps]
    assert sorted(rc for rc, _ in results) == [0, 2], results
    winner = [i for i, (rc, _) in enumerate(results) if rc == 0][0]
    loser_err = results[1 - winner][1]
    assert "in use by another deltaprop process" in loser_err or "already holds a run" in loser_err, loser_err
    one_line(loser_err)
    seed = winner + 1  # config, identity and model all belong to the winner
    assert json.loads((out / "run.json").read_text())["settings"]["seed"] == seed
    assert f"seed = {seed}" in (out / "config.toml").read_text()
    assert dp.load_model(out / "model.npz").info["seed"] == seed


def test_sigkill_releases_the_lock(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv", rows=400), tmp_path / "run"
    p = subprocess.Popen(cli("train", "--data", str(data), "--hidden", "16", "--epochs", "30", "--batch-size", "4",
                             "--early-stopping", "0", "--out", str(out), "--quiet"),
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(out / "config.toml", p)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run(cli("train", "--resume", str(out), "--quiet", "--epochs", "2"), env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_the_lock_is_per_thread_too(tmp_path):
    import threading

    from deltaprop.training import runs

    errors = []

    def second():
        try:
            with runs.RunDir(tmp_path):
                pass
        except dp.DeltapropError as e:
            errors.append(str(e))

    with runs.RunDir(tmp_path), runs.RunDir(tmp_path):  # nested in one thread: shared (resume → fit)
        t = threading.Thread(target=second)
        t.start()
        t.join()
    assert len(errors) == 1 and "in use by another deltaprop process" in errors[0]
    with runs.RunDir(tmp_path):  # released on exit
        pass


def test_training_into_a_finished_run_is_refused_unless_overwrite(tmp_path, capsys):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    dp.fit(str(data), out=out, seed=0, **SMALL)
    before = {n: (out / n).read_bytes() for n in ("config.toml", "metrics.jsonl", "model.npz", "run.json")}
    args = ["train", "--data", str(data), "--hidden", "6", "--epochs", "4", "--batch-size", "8", "--lr", "0.01",
            "--early-stopping", "0", "--seed", "1", "--out", str(out), "-q"]
    assert main(args) == 2
    one_line(capsys.readouterr().err, "already holds a run", "--resume", "--overwrite")
    assert {n: (out / n).read_bytes() for n in before} == before  # nothing of the old run was touched
    with pytest.raises(dp.DeltapropError, match="already holds a run"):
        dp.fit(str(data), out=out, seed=1, **SMALL)
    (out / "notes.txt").write_text("mine")
    assert main(args + ["--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"  # --overwrite removes the run's files, not the user's
    assert same(weights(out), weights(dp.fit(str(data), out=tmp_path / "b", seed=1, **SMALL).out))


def test_a_kill_before_the_first_checkpoint_of_a_reused_directory_never_resumes_the_old_run(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    dp.fit(str(data), out=out, seed=0, **SMALL)
    old_checkpoint = (out / "checkpoint.npz").read_bytes()
    # the second run, started with --overwrite and killed before its first checkpoint (a real SIGKILL as soon
    # as its settings are on disk)
    p = subprocess.Popen(cli("train", "--data", str(data), "--hidden", "6", "--epochs", "4", "--batch-size", "8",
                             "--lr", "0.01", "--early-stopping", "0", "--seed", "1", "--out", str(out), "--quiet",
                             "--overwrite"), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while "seed = 1" not in ((out / "config.toml").read_text() if (out / "config.toml").exists() else ""):
        assert p.poll() is None and time.monotonic() - t0 < 60
        time.sleep(0.001)
    p.send_signal(signal.SIGKILL)
    p.wait()
    # the worst case as well: the old run's checkpoint back in place (a copy, or a clearing cut short)
    planted = not (out / "checkpoint.npz").exists()
    if planted:
        (out / "checkpoint.npz").write_bytes(old_checkpoint)
        with pytest.raises(dp.DeltapropError, match="belongs to another run"):
            dp.resume(out)
        (out / "checkpoint.npz").unlink()
    dp.resume(out)
    expected = weights(dp.fit(str(data), out=tmp_path / "b", seed=1, **SMALL).out)
    assert same(weights(out), expected)


def test_resume_refuses_other_data_other_settings_and_another_runs_checkpoint(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    dp.fit(str(data), out=out, stop_after_epoch=2, **SMALL)
    original = data.read_text()
    data.write_text(original.replace("p\n", "n\n", 1))  # one label changed
    with pytest.raises(dp.DeltapropError, match="changed since the run"):
        dp.resume(out)
    data.write_text(original)
    cfg = (out / "config.toml").read_text()
    (out / "config.toml").write_text(cfg.replace("lr = 0.01", "lr = 0.02"))
    with pytest.raises(dp.DeltapropError, match="setting lr is 0.02 but the run was started with 0.01"):
        dp.resume(out)
    (out / "config.toml").write_text(cfg)
    other = tmp_path / "other"
    dp.fit(str(data), out=other, stop_after_epoch=2, **SMALL)  # same settings, another run
    mine = (out / "checkpoint.npz").read_bytes()
    (out / "checkpoint.npz").write_bytes((other / "checkpoint.npz").read_bytes())
    with pytest.raises(dp.DeltapropError, match="belongs to another run"):
        dp.resume(out)
    (out / "checkpoint.npz").write_bytes(mine)
    (out / "run.json").unlink()
    with pytest.raises(dp.DeltapropError, match="no run.json"):
        dp.resume(out)


# --- files written safely ------------------------------------------------------------------------------------------


def test_symlinks_planted_in_the_run_directory_are_replaced_never_followed(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    out.mkdir()
    victims = {}
    for name in ("curves.png", "model.npz", "metrics.json", "metrics.jsonl", "config.toml", "run.json"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (out / name).symlink_to(victim)
        victims[name] = victim
    (out / "model.npz").unlink()  # a run directory with links is "a run" only where it holds the run's files
    (out / "metrics.jsonl").unlink()
    (out / "config.toml").unlink()
    dp.fit(str(data), out=out, **SMALL)
    for name, victim in victims.items():
        assert victim.read_text() == "precious", name
    for name in ("curves.png", "metrics.json", "run.json"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    # a link planted in the middle of a run (metrics.jsonl is appended to) is refused, not followed
    dp.fit(str(data), out=tmp_path / "r2", stop_after_epoch=1, **SMALL)
    from deltaprop.training import runs

    (tmp_path / "r2" / "metrics.jsonl").unlink()
    (tmp_path / "r2" / "metrics.jsonl").symlink_to(victims["metrics.jsonl"])
    with pytest.raises(dp.DeltapropError, match="symlink"):
        runs.append_metrics(tmp_path / "r2", {"epoch": 2})
    assert victims["metrics.jsonl"].read_text() == "precious"


def test_resume_leaves_the_users_temporary_files_alone(tmp_path):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    dp.fit(str(data), out=out, stop_after_epoch=2, **SMALL)
    mine = [out / ".notes.tmp", out / ".checkpoint.npz.abc.tmp", out / ".model.npz.0123456789abcdef-00000000.tmp"]
    for p in mine:
        p.write_text("mine")
    run_id = json.loads((out / "run.json").read_text())["id"]
    stale = out / f".model.npz.{run_id}-deadbeef.tmp"
    stale.write_bytes(b"left by a kill")
    dp.resume(out)
    assert all(p.read_text() == "mine" for p in mine)
    assert not stale.exists()


def test_temporary_files_are_created_exclusively(tmp_path, monkeypatch):
    from deltaprop.files import safe

    target = tmp_path / "f.txt"
    planted = tmp_path / "elsewhere"
    planted.write_text("precious")
    link = tmp_path / ".f.txt.ID-00000000.tmp"
    link.symlink_to(planted)
    monkeypatch.setattr(safe, "temp_name", lambda path, owner=None: link)
    with pytest.raises(FileExistsError):
        safe.write_text_atomic(target, "new")
    assert planted.read_text() == "precious" and not target.exists()


# --- files read safely ---------------------------------------------------------------------------------------------


def _npy(shape, dtype="<f8", data=b"") -> bytes:
    head = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode("latin1")
    head += b" " * (63 - (len(head) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + data


def _model_members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(targets.sample_model_bytes())) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: that is the attack
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, content in members:
                z.writestr(name, content)
    return path


def test_duplicate_and_unknown_npz_members_are_refused_before_any_array_is_read(tmp_path, capsys):
    members = _model_members()
    dup = _zip(tmp_path / "dup.npz", [("W1.npy", _npy((-1, 10**12))), *members.items()])
    extra = _zip(tmp_path / "extra.npz", [*members.items(), ("payload.npy", _npy((2,), data=bytes(16)))])
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,y\n1,2,3,no\n4,5,6,yes\n")
    for path, needle in ((dup, "'W1.npy' appears twice"), (extra, "'payload.npy' is not an array a model file")):
        assert main(["evaluate", str(path), "--data", str(data)]) == 2
        one_line(capsys.readouterr().err, path.name, needle)
    # the same for data files: duplicate X members
    X = io.BytesIO()
    np.save(X, np.zeros((3, 2)))
    dupx = _zip(tmp_path / "dupx.npz", [("X.npy", X.getvalue()), ("X.npy", X.getvalue()), ("T.npy", X.getvalue())])
    with pytest.raises(dp.DeltapropError, match="appears twice"):
        dp.load_data(str(dupx))


def test_npz_members_that_inflate_past_their_header_are_refused_in_bounded_memory(tmp_path):
    # x_mean's header declares 3 floats, its compressed data inflate to 200 MB: the stream is cut at the
    # declared size (never inflated first), so the reader refuses it having held a few MB at most
    members = _model_members()
    head = members["x_mean.npy"][:-24]
    path = _zip(tmp_path / "bomb.npz", [(n, c) for n, c in members.items() if n != "x_mean.npy"]
                + [("x_mean.npy", head + bytes(200 * 2**20))])
    assert path.stat().st_size < 2**20
    code = (f"import deltaprop as dp\n"
            f"try:\n    dp.load_model({str(path)!r})\nexcept dp.DeltapropError as e:\n    print('REFUSED', e)\n"
            + PEAK)
    r = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert "REFUSED" in r.stdout and "more data than its header" in r.stdout, r.stdout + r.stderr
    assert int(r.stdout.split("MAXRSS")[1]) < 150 * 1024, r.stdout  # kB: far below the 200 MB it inflates to


def test_a_negative_dimension_cannot_cancel_the_size_limit(tmp_path):
    # the bypass: a member declaring shape (-1, 10**12) made the sum of declared sizes negative, so
    # that a 3 GiB member beside it passed the 1 GiB limit
    members = _model_members()
    path = _zip(tmp_path / "neg.npz", [("b1.npy", _npy((-1, 10**12))), ("W1.npy", _npy((3 * 2**27,)))]
                + [(n, c) for n, c in members.items() if n not in ("b1.npy", "W1.npy")])
    with pytest.raises(dp.DeltapropError, match=r"declares shape \(-1, 1000000000000\)"):
        dp.load_model(path)


# the child's own peak resident memory (VmHWM, kB): ru_maxrss would include the parent's at the fork
PEAK = "print('MAXRSS', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"


def _tampered(tmp_path, name: str, arrays: dict | None = None, meta: dict | None = None) -> Path:
    with np.load(io.BytesIO(targets.sample_model_bytes())) as f:
        a = {k: f[k] for k in f.files}
    m = json.loads(a["meta"].tobytes())
    m.update(meta or {})
    a.update(arrays or {}, meta=np.frombuffer(json.dumps(m).encode(), np.uint8))
    path = tmp_path / name
    np.savez(path, **a)
    return path


@pytest.mark.parametrize("name,arrays,meta,needle", [
    ("scale.npz", {"x_scale": np.array([1e-320, 1.0, 1.0])}, None, "x_scale: values from 1e-320"),
    ("weights.npz", {"W1": np.full((4, 3), 1e300)}, None, "W1: values up to 1e+300"),
    ("mean.npz", {"x_mean": np.array([1e308, 0.0, 0.0])}, None, "x_mean: values up to 1e+308"),
    ("version.npz", None, {"version": True}, "version True"),
    ("features.npz", None, {"feature_names": ["a", "a", "c"]}, "feature_names names 'a' more than once"),
])
def test_tampered_model_fields_are_refused(tmp_path, capsys, name, arrays, meta, needle):
    path = _tampered(tmp_path, name, arrays, meta)
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,y\n1,2,3,no\n4,5,6,yes\n")
    for args in (["evaluate", str(path), "--data", str(data)], ["predict", str(path), str(data)]):
        assert main(args) == 2
        one_line(capsys.readouterr().err, name, needle)


def test_outputs_that_overflow_are_an_error_not_nan(tmp_path):
    # every stored value within range, yet the product overflows on these inputs: refused, naming the row
    W1 = np.zeros((4, 3))
    W1[:, 0], W1[:, 1] = 1e150, -1e150  # z = 1e150 x₁ − 1e150 x₂ = ∞ − ∞ once x₁ = x₂ overflow
    model = dp.load_model(_tampered(tmp_path, "big.npz", {"W1": W1, "x_scale": np.array([1e-10, 1e-10, 1.0])}))
    assert np.all(np.isfinite(dp.predict(model, [[1.0, 1.0, 1.0]], proba=True)))
    with pytest.raises(dp.DeltapropError, match="not finite for row 2"):
        dp.predict(model, [[1.0, 1.0, 1.0], [1e300, 1e300, 0.0]], proba=True)
    with pytest.raises(dp.DeltapropError, match="not finite"):
        dp.evaluate(model, [[1e300, 1e300, 0.0]], [0])


@pytest.mark.parametrize("field,value,needle", [
    ("loss_sum", "12", "loss_sum"), ("seconds", None, "seconds"), ("batch", 99, "batch 99 is past the end"),
    ("epoch", True, "epoch"), ("history", [{"epoch": 1, "seconds": "x"}], "history"),
])
def test_tampered_checkpoint_state_is_one_line(tmp_path, capsys, field, value, needle):
    data, out = tiny_csv(tmp_path / "d.csv"), tmp_path / "run"
    dp.fit(str(data), out=out, stop_after_epoch=1, **SMALL)
    with np.load(out / "checkpoint.npz") as f:
        a = {k: f[k] for k in f.files}
    m = json.loads(a["meta"].tobytes())
    m["state"][field] = value
    a["meta"] = np.frombuffer(json.dumps(m).encode(), np.uint8)
    np.savez(out / "checkpoint.npz", **a)
    assert main(["train", "--resume", str(out), "-q"]) == 2
    one_line(capsys.readouterr().err, "checkpoint.npz", needle)


def test_a_wide_model_predicts_in_chunks_within_bounded_memory(tmp_path):
    # 440 000 hidden units stored as zeros compress to a 22 KB file; predicting 5 000 rows at once would need
    # 5000 × 440 000 × 8 B = 16.4 GiB for one layer's z. The suite predicts 400 rows (1.4 GB for z and as much
    # for a in one batch) to stay fast; docs/reliability.md records the 5 000-row run
    n_hidden = 440_000
    with np.load(io.BytesIO(targets.sample_model_bytes())) as f:
        a = {k: f[k] for k in f.files}
    m = json.loads(a["meta"].tobytes())
    m["network"]["sizes"] = [3, n_hidden, 2]
    a.update(W1=np.zeros((n_hidden, 3)), b1=np.zeros(n_hidden), W2=np.zeros((2, n_hidden)),
             meta=np.frombuffer(json.dumps(m).encode(), np.uint8))
    path = tmp_path / "wide.npz"
    np.savez_compressed(path, **a)
    assert path.stat().st_size < 200_000
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b,c\n" + "1,2,3\n" * 400)
    code = (f"from deltaprop.cli import main\n"
            f"rc = main(['predict', {str(path)!r}, {str(rows)!r}, '-o', {str(tmp_path / 'p.csv')!r}])\n"
            f"print('RC', rc)\n" + PEAK)
    r = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=300)
    assert "RC 0" in r.stdout, r.stdout + r.stderr
    assert int(r.stdout.split("MAXRSS")[1]) < 1024 * 1024, r.stdout  # kB: under 1 GiB
    assert (tmp_path / "p.csv").read_text().count("\n") == 401


# --- limits shared by training and loading ----------------------------------------------------------------------


@pytest.mark.parametrize("hidden,needle", [("2000000", "network sizes must be"),
                                           (",".join(["2"] * 1700), "network sizes must be")])
def test_train_refuses_up_front_what_loading_would_refuse(tmp_path, hidden, needle):
    data = tiny_csv(tmp_path / "d.csv")
    t0 = time.monotonic()
    r = subprocess.run(cli("train", "--data", str(data), "--hidden", hidden, "--out", str(tmp_path / "r"), "-q"),
                       env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    one_line(r.stderr, needle)
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "r" / "checkpoint.npz").exists()


def test_the_checkpoint_of_the_largest_network_train_accepts_fits_the_reader():
    from deltaprop import limits

    limits.checkpoint_arrays([2] * (limits.MAX_LAYERS + 1))  # the deepest network train accepts
    assert limits.CHECKPOINT_ARRAYS_PER_LAYER * limits.MAX_LAYERS + 3 <= limits.NPZ_ARRAYS
    with pytest.raises(dp.DeltapropError, match="checkpoints of"):
        limits.checkpoint_arrays([2] * (limits.NPZ_ARRAYS // limits.CHECKPOINT_ARRAYS_PER_LAYER + 2))


@pytest.mark.parametrize("example", ["chain_001.toml", "layered_2-3-2.toml"])
def test_trace_refuses_a_nan_sample(tmp_path, capsys, example):
    text = (Path(__file__).parent.parent / "examples" / example).read_text()
    bad = tmp_path / example
    bad.write_text(text.replace('"x" = 0.5', '"x" = nan').replace("x = [0.5,", "x = [nan,"))
    assert bad.read_text() != text
    assert main(["trace", str(bad)]) == 2
    one_line(capsys.readouterr().err, "[sample]", "finite")
