"""`deltaprop train`, `evaluate` and `predict` end to end on a tiny data set, in seconds."""

import csv
import json
import tomllib

import numpy as np
import pytest

from deltaprop.training import train
from deltaprop.cli import main


@pytest.fixture
def tiny_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 2)) * [1.0, 10.0] + [0.0, 50.0]
    kinds = np.where(X[:, 0] > 0, "up", "down")
    path = tmp_path / "tiny.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x1", "x2", "kind"])
        w.writerows([[a, b, k] for (a, b), k in zip(X, kinds)])
    return path


def train_args(data, out, *extra):
    return ["train", "--data", str(data), "--target", "kind", "--hidden", "8", "--epochs", "6", "--lr", "0.05",
            "--batch-size", "16", "--out", str(out), "--quiet", *extra]


def test_train_writes_the_run_directory(tiny_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(tiny_csv, out)) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "test accuracy" in last and str(out) in last
    assert {p.name for p in out.iterdir()} >= {"model.npz", "config.toml", "metrics.jsonl", "metrics.json",
                                                "curves.png", "checkpoint.npz"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_accuracy", "train_accuracy", "val_accuracy", "train_loss"} <= set(metrics)
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == metrics["epochs_run"] and {"train_loss", "val_loss", "val_accuracy", "seconds"} <= set(lines[0])
    cfg = tomllib.loads((out / "config.toml").read_text())
    assert cfg["hidden"] == [8] and cfg["output"] == "softmax" and cfg["loss"] == "cross_entropy"
    with np.load(out / "model.npz", allow_pickle=False) as f:
        assert f["W1"].shape == (8, 2)


def test_evaluate_and_predict(tiny_csv, tmp_path, capsys):
    out = tmp_path / "run"
    main(train_args(tiny_csv, out, "--epochs", "30"))
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(tiny_csv), "--target", "kind", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 80 and result["accuracy"] > 0.9
    assert main(["predict", str(out / "model.npz"), str(tiny_csv), "--proba", "-o", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    truth = [r["kind"] for r in csv.DictReader(open(tiny_csv))]
    assert set(rows[0]) == {"prediction", "p_down", "p_up"}
    assert np.mean([r["prediction"] == t for r, t in zip(rows, truth)]) == pytest.approx(result["accuracy"])


def test_config_file_with_flags_winning(tiny_csv, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text(f'data = "{tiny_csv}"\ntarget = "kind"\nhidden = [5, 3]\nepochs = 2\nlr = 0.5\n'
                    'optimizer = "momentum"\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(conf), "--lr", "0.01", "--out", str(out), "--quiet"]) == 0
    cfg = tomllib.loads((out / "config.toml").read_text())
    assert cfg["hidden"] == [5, 3] and cfg["lr"] == 0.01 and cfg["optimizer"] == "momentum" and cfg["epochs"] == 2


def test_resume_from_the_command_line_is_bit_identical(tiny_csv, tmp_path):
    assert main(train_args(tiny_csv, tmp_path / "a")) == 0
    assert main(train_args(tiny_csv, tmp_path / "b", "--stop-after-epoch", "3")) == 0
    assert not (tmp_path / "b" / "model.npz").exists()
    assert main(["train", "--resume", str(tmp_path / "b"), "--quiet"]) == 0
    with np.load(tmp_path / "a" / "model.npz") as a, np.load(tmp_path / "b" / "model.npz") as b:
        for k in ("W1", "b1", "W2", "b2"):
            assert np.array_equal(a[k], b[k])


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tiny_csv, tmp_path, monkeypatch, capsys):
    class Pressed:
        flag = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(train, "_Interrupts", Pressed)
    assert main(train_args(tiny_csv, tmp_path / "run")) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0]
    assert (tmp_path / "run" / "checkpoint.npz").exists()


@pytest.mark.parametrize("text,match", [
    ("x1,x2,kind\n1,2,up\n3,four,down\n", "row 3, column 'x2': 'four' is not a number"),
    ("x1,x2,kind\n1,2,up\n3,4\n", "row 3 has 2 cells"),
])
def test_bad_data_is_one_line_and_status_2(tmp_path, capsys, text, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and "bad.csv" in err[0]


def test_bad_flags_are_errors(tmp_path, capsys):
    assert main(["train", "--data", "iris", "--hidden", "8,x", "--out", str(tmp_path / "r")]) == 2
    assert main(["train", "--data", "iris", "--optimizer", "lbfgs", "--out", str(tmp_path / "r")]) == 2
    assert "unknown optimizer" in capsys.readouterr().err
