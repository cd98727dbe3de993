"""Issue 13, evaluation: stratified splits stored with the data's fingerprint, `evaluate --split` on exactly those
rows, the metrics against scikit-learn's, predict from every input format, output/loss pairs checked, the
defaults against a linear model, and figures that tell the truth without touching the user's backend."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import data
from deltaprop.cli import main
from deltaprop.errors import DeltapropError, DeltapropWarning
from deltaprop.training import model as model_mod
from deltaprop.view import plots
from conftest import one_line_error

SRC = str(Path(__file__).parent.parent / "src")




@pytest.fixture
def kinds_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2))
    kind = np.where(X[:, 0] + 0.5 * X[:, 1] > 0.3, "up", "down")
    path = tmp_path / "kinds.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "kind"])
        w.writerows([[f"{x:.5f}", f"{y:.5f}", k] for (x, y), k in zip(X, kind)])
    return path


def train(path, out, *extra):
    return main(["train", "--data", str(path), "--hidden", "8", "--epochs", "20", "--lr", "0.05", "--batch-size", "16",
                 "--out", str(out), "--quiet", *extra])


# --- splits ----------------------------------------------------------------------------------------------------


def test_split_is_stratified_and_still_a_seeded_partition():
    labels = np.array([0] * 90 + [1] * 5 + [2] * 5)
    tr, va, te = data.split(100, 0.1, 0.2, np.random.default_rng(0), labels=labels)
    assert (len(tr), len(va), len(te)) == (70, 10, 20)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    assert np.bincount(labels[te], minlength=3).tolist() == [18, 1, 1]  # 20 % of each class
    assert np.bincount(labels[va], minlength=3)[0] == 9  # 10 % of class 0; the rare classes keep a training row
    for seed in range(20):  # a rare class is never left out of the test rows, nor of the training rows
        tr, va, te = data.split(100, 0.1, 0.2, np.random.default_rng(seed), labels=labels)
        assert set(labels[te]) == {0, 1, 2} and set(labels[tr]) == {0, 1, 2}
    again = data.split(100, 0.1, 0.2, np.random.default_rng(0), labels=labels)
    assert all(np.array_equal(a, b) for a, b in zip(again, data.split(100, 0.1, 0.2, np.random.default_rng(0),
                                                                      labels=labels)))


def test_fingerprint_is_sha256_of_dtype_shape_and_bytes():
    import hashlib

    X, T = np.arange(12.0).reshape(4, 3), np.eye(4)
    h = hashlib.sha256()
    for a in (X, T):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    assert data.fingerprint(X, T) == h.hexdigest() == data.fingerprint(np.asfortranarray(X), T)
    assert data.fingerprint(X[::-1], T) != h.hexdigest() and data.fingerprint(X.astype(np.float32), T) != h.hexdigest()


def test_evaluate_split_test_takes_exactly_the_held_out_rows(kinds_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(kinds_csv, out) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(kinds_csv), "--split", "test", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    with np.load(out / "split.npz", allow_pickle=False) as z:
        te = z["test"]
    ds = data.load(kinds_csv)
    model = dp.load_model(out / "model.npz")
    direct = dp.evaluate(model, ds.X[te], data.align(ds, model)[te])
    assert r["n"] == len(te) == 24 and r["accuracy"] == direct["accuracy"] and r["loss"] == direct["loss"]
    assert r["accuracy"] == json.loads((out / "metrics.json").read_text())["test_accuracy"]


def test_a_shuffled_copy_is_refused_for_split_test(kinds_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(kinds_csv, out) == 0
    lines = kinds_csv.read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    body = lines[1:]
    np.random.default_rng(1).shuffle(body)
    shuffled.write_text("\n".join([lines[0], *body]) + "\n")
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(shuffled), "--split", "test"]) == 2
    one_line_error(capsys, "shuffled.csv is not the data this model was trained on", "--split all")
    assert main(["evaluate", str(out / "model.npz"), "--data", str(shuffled), "--json"]) == 0  # all rows: fine


def test_evaluate_finds_the_target_by_name_not_as_the_last_column(kinds_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(kinds_csv, out) == 0
    no_target = tmp_path / "inputs.csv"
    no_target.write_text("\n".join(",".join(r.split(",")[:2]) for r in kinds_csv.read_text().splitlines()) + "\n")
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(no_target)]) == 2
    one_line_error(capsys, "no column 'kind'")
    reordered = tmp_path / "reordered.csv"  # columns in another order: matched by name
    rows = [r.split(",") for r in kinds_csv.read_text().splitlines()]
    reordered.write_text("\n".join(",".join([r[2], r[1], r[0]]) for r in rows) + "\n")
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(reordered), "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(out / "model.npz"), "--data", str(kinds_csv), "--json"]) == 0
    assert a["accuracy"] == json.loads(capsys.readouterr().out)["accuracy"]


# --- metrics against scikit-learn --------------------------------------------------------------------------------


def test_classification_metrics_match_sklearn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 200)
    y = np.where(rng.random(200) < 0.7, t, rng.integers(0, 4, 200))
    y[y == 3] = 2  # class 3 is never predicted: precision undefined → 0, as sklearn's zero_division=0
    r = model_mod.classification_report(y, t, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(r["confusion"], skm.confusion_matrix(t, y, labels=range(4)))
    p, rec, f1, sup = skm.precision_recall_fscore_support(t, y, labels=range(4), zero_division=0)
    for k, name in enumerate("abcd"):
        assert r["per_class"][name] == pytest.approx({"precision": p[k], "recall": rec[k], "f1": f1[k],
                                                      "support": sup[k]})
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(t, y))
    assert r["macro_f1"] == pytest.approx(skm.f1_score(t, y, average="macro", zero_division=0))


def test_regression_metrics_match_sklearn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(1)
    T = rng.standard_normal((50, 2)) * [1, 10]
    Y = T + rng.standard_normal((50, 2))
    r = model_mod.regression_report(Y, T)
    assert r["mse"] == pytest.approx(skm.mean_squared_error(T, Y))
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(T, Y))
    assert r["r2"] == pytest.approx(skm.r2_score(T, Y))
    assert model_mod.regression_report(Y[:, :1], np.ones((50, 1)))["r2"] is None  # constant targets


def test_evaluate_prints_per_class_metrics_and_the_confusion_matrix(kinds_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(kinds_csv, out) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(kinds_csv), "--plot", str(tmp_path / "c.png")]) == 0
    text = capsys.readouterr().out
    assert "macro F1" in text and "precision" in text and "confusion matrix" in text and "true \\ predicted" in text
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert main(["evaluate", str(out / "model.npz"), "--data", str(kinds_csv), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"accuracy", "confusion", "per_class", "macro_f1", "loss"} <= set(r)
    assert sum(map(sum, r["confusion"])) == 120 and set(r["per_class"]) == {"down", "up"}


def test_regression_evaluate_gives_mse_mae_r2(tmp_path, capsys):
    p = tmp_path / "reg.csv"
    x = np.linspace(-2, 2, 80)
    p.write_text("x,t\n" + "".join(f"{a},{2 * a + 1}\n" for a in x))
    out = tmp_path / "run"
    assert main(["train", "--data", str(p), "--hidden", "4", "--epochs", "100", "--lr", "0.02", "--out", str(out),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", str(p), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"mse", "mae", "r2"} <= set(r) and r["r2"] > 0.9


# --- predict from every format -----------------------------------------------------------------------------------


def test_predict_reads_npz_idx_and_parquet_and_keeps_id_columns(tmp_path, capsys):
    import pandas as pd

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (60, 2, 2)).astype(np.uint8)
    labels = (images.reshape(60, -1).mean(axis=1) > 127).astype(np.uint8)
    img = tmp_path / "train-images-idx3-ubyte"
    img.write_bytes(bytes([0, 0, 8, 3]) + np.array([60, 2, 2], ">u4").tobytes() + images.tobytes())
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + np.array([60], ">u4").tobytes()
                                                       + labels.tobytes())
    out = tmp_path / "run"
    assert main(["train", "--data", str(img), "--hidden", "4", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    model = dp.load_model(out / "model.npz")
    want = [model.classes[k] for k in model.predict(images.reshape(60, -1).astype(float))]
    np.savez(tmp_path / "x.npz", X=images.reshape(60, -1).astype(float))
    capsys.readouterr()
    for src in (img, tmp_path / "x.npz"):
        assert main(["predict", str(out / "model.npz"), str(src)]) == 0
        got = capsys.readouterr().out.strip().splitlines()
        assert got[0] == "prediction" and got[1:] == want
    # a table: a model without column names takes the table's other columns in order; an ID carried through
    df = pd.DataFrame(images.reshape(60, -1).astype(float), columns=[f"p{j}" for j in range(4)])
    df.insert(0, "id", [f"{i:03d}" for i in range(60)])
    df.to_parquet(tmp_path / "x.parquet")
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "x.parquet"), "--keep", "id"]) == 0
    got = capsys.readouterr().out.strip().splitlines()
    assert got[0] == "id,prediction" and got[1:] == [f"{i:03d},{w}" for i, w in enumerate(want)]
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "x.npz"), "--keep", "id"]) == 2
    one_line_error(capsys, "--keep picks columns of a table")


# --- output/loss pairs ---------------------------------------------------------------------------------------------


def test_a_pair_that_cannot_learn_is_refused_unless_forced(tmp_path, capsys):
    assert main(["train", "--data", "iris", "--output", "sigmoid", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    one_line_error(capsys, "sigmoid + cross_entropy cannot learn", "--output softmax --loss cross_entropy", "--force")
    assert main(["train", "--data", "iris", "--output", "sigmoid", "--force", "--epochs", "2",
                 "--out", str(tmp_path / "r"), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deltaprop: warning: sigmoid + cross_entropy cannot learn")


@pytest.mark.parametrize("settings,match", [
    (dict(output="softmax", loss="quadratic"), "softmax + cross_entropy"),
    (dict(output="sigmoid", loss="quadratic"), "softmax + cross_entropy"),
])
def test_a_non_canonical_pair_gets_a_warning_naming_the_canonical_one(settings, match):
    with pytest.warns(DeltapropWarning, match=re.escape(f"not the canonical pair for classification: {match}")):
        dp.fit("iris", epochs=1, hidden=[4], **settings)


def test_canonical_pairs_train_without_a_warning(recwarn):
    dp.fit("iris", epochs=1, hidden=[4])
    dp.fit("square", epochs=1)
    dp.fit("gauss", epochs=1, output="sigmoid", loss="binary_cross_entropy")  # two classes: canonical too
    assert not [w for w in recwarn if issubclass(w.category, DeltapropWarning)]


def test_softmax_over_one_output_is_refused():
    with pytest.raises(DeltapropError, match="softmax over one output cannot learn"):
        dp.fit("square", epochs=1, output="softmax")


# --- defaults against a linear model ------------------------------------------------------------------------------


def test_the_diabetes_default_matches_a_linear_model_on_the_same_split():
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    ds = dp.load_data("diabetes")
    run = dp.fit("diabetes", seed=0)  # the recipe of docs/data.md's table
    tr, te = run.split["train"], run.split["test"]
    s = StandardScaler().fit(ds.X[tr])
    lin = LinearRegression().fit(s.transform(ds.X[tr]), ds.T[tr])
    linear_mse = float(np.mean((lin.predict(s.transform(ds.X[te])) - ds.T[te]) ** 2))
    assert run.metrics["test_mse"] <= 1.01 * linear_mse  # was 4356 against 3740 (issue 13)


# --- figures -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_and_three():
    circle = dp.fit("circle", noise=0.3, epochs=20, seed=0)
    iris = dp.load_data("iris")
    ds = data.Dataset("petals", iris.X[:, 2:4], iris.T, "classification", classes=iris.classes,
                      feature_names=["petal length", "petal width"])
    return circle, dp.fit(ds, hidden=[8], epochs=20, seed=0), ds


def _rgba(c):
    from matplotlib.colors import to_rgba

    return np.array(to_rgba(c))


def test_regions_points_and_legend_share_each_class_colour(two_and_three):
    circle, petals, ds = two_and_three
    cases = [(circle.model, dp.load_data("circle", noise=0.3)), (petals.model, ds)]
    for model, d in cases:
        fig = plots.decision_regions(model, d.X, d.T)
        ax = fig.axes[0]
        K = d.T.shape[1]
        colours = [_rgba(c) for c in plots.class_colours(K)]
        faces = ax.collections[-1].get_facecolors()  # the points
        for k in range(K):
            mine = faces[d.labels == k]
            assert np.allclose(mine[:, :3], colours[k][:3])  # each point in its class's colour
            assert not np.allclose(colours[k][:3], 0)  # and that colour is not black
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == model.classes
        assert [tuple(np.round(_rgba(h.get_markerfacecolor())[:3], 6)) for h in legend.legend_handles] == \
               [tuple(np.round(c[:3], 6)) for c in colours]
        assert (ax.get_xlabel(), ax.get_ylabel()) == tuple(model.feature_names)
    # three classes: the filled level of class k (where the model predicts k) has class k's colour, so a point
    # of class k where the model is right sits in its own colour (the issue: points and regions disagreed)
    fig = plots.decision_regions(petals.model, ds.X, ds.T)
    regions = fig.axes[0].collections[0]
    assert list(regions.levels) == [-0.5, 0.5, 1.5, 2.5]
    for k, face in enumerate(regions.get_facecolor()):
        assert np.allclose(face[:3], _rgba(plots.class_colours(3)[k])[:3])


def test_curves_mark_the_early_stopping_epoch():
    run = dp.fit("breast_cancer", seed=0, epochs=100)
    assert run.metrics["stopped_early"]
    best = run.metrics["best_epoch"]
    fig = plots.learning_curves(run.history, run.model, best_epoch=best)
    lines = [ln for ax in fig.axes for ln in ax.get_lines()
             if len(ln.get_xdata()) == 2 and np.allclose(ln.get_xdata(), [best, best])]
    assert fig.axes[0].get_ylabel() == "loss (cross_entropy)" and fig.axes[1].get_ylabel() == "validation accuracy"
    assert len(lines) == 2 and f"epoch {best}" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_confusion_and_predicted_vs_true_figures():
    from sklearn.metrics import r2_score

    C = [[5, 1], [2, 7]]
    fig = plots.confusion_matrix(C, ["no", "yes"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "2", "5", "7"] and "accuracy 80.0%" in fig.axes[0].get_title()
    t = np.linspace(0, 1, 30)[:, None]
    y = t + 0.1 * np.sin(7 * t)
    fig = plots.predicted_vs_true(y, t, ["v"])
    assert f"R² = {r2_score(t, y):.3f}" in fig.axes[0].get_title()


def test_figures_leave_the_users_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import sys, numpy as np, deltaprop as dp\n"
            "from deltaprop.view import plots\n"
            "run = dp.fit('xor', epochs=2, out=sys.argv[1])\n"
            "f = plots.confusion_matrix([[1, 0], [0, 1]], ['a', 'b'])\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
            "assert type(f).__name__ == 'Figure'\n"
            "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True,
                       env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "no pyplot" and (tmp_path / "run" / "curves.png").exists()
