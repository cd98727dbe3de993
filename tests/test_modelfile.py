"""Model files: a round trip keeps every bit; tampered or hostile files are refused with clear errors."""

import json

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import modelfile
from deltaprop.errors import DeltapropError


@pytest.fixture(scope="module")
def run():
    return dp.fit("iris", epochs=5, hidden=[4], seed=1)


def test_round_trip_is_exact(run, tmp_path):
    path = tmp_path / "model.npz"
    run.model.save(path)
    back = dp.load_model(path)
    for a, b in zip(back.net.params(), run.model.net.params()):
        assert np.array_equal(a, b)
    X = dp.load_data("iris").X
    assert np.array_equal(back.predict_proba(X), run.model.predict_proba(X))
    assert back.classes == ["setosa", "versicolor", "virginica"]
    with np.load(path, allow_pickle=False) as f:  # readable without pickle; metadata is JSON in uint8
        meta = json.loads(f["meta"].tobytes().decode())
    assert meta["network"]["activations"] == ["relu", "softmax"]


def test_regression_round_trip_keeps_target_scaling(tmp_path):
    r = dp.fit("square", epochs=3)
    r.model.save(tmp_path / "m.npz")
    back = dp.load_model(tmp_path / "m.npz")
    x = np.linspace(-1, 1, 7)[:, None]
    assert np.array_equal(back.predict(x), r.model.predict(x))


def tamper(run, tmp_path, change):
    path = tmp_path / "model.npz"
    run.model.save(path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    change(arrays, meta)
    if "meta" in arrays:
        arrays["meta"] = modelfile.json_bytes(meta)
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("change,match", [
    (lambda a, m: a.update(W1=a["W1"][:, :2]), r"W1 must be a float array of shape \(4, 4\)"),
    (lambda a, m: a["W2"].__setitem__((0, 0), np.nan), "W2 contains NaN or Inf"),
    (lambda a, m: m["network"].update(activations=["os.system", "softmax"]), "unknown activation 'os.system'"),
    (lambda a, m: m["network"].update(sizes=[4, 10**9, 3]), "network sizes must be"),
    (lambda a, m: m["network"].update(loss="__import__"), "unknown loss"),
    (lambda a, m: m.update(format="other"), "not a deltaprop model"),
    (lambda a, m: m.update(classes=["a", "b"]), "classes must be a list of 3"),
    (lambda a, m: a.update(x_scale=np.zeros(4)), "x_scale must be > 0"),
    (lambda a, m: a.pop("b1"), "missing array b1"),
    (lambda a, m: a.pop("meta"), "no metadata"),
])
def test_tampered_files_are_refused(run, tmp_path, change, match):
    with pytest.raises(DeltapropError, match=match):
        dp.load_model(tamper(run, tmp_path, change))


def test_pickles_and_garbage_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", meta=np.array([{"x": 1}], dtype=object))
    with pytest.raises(DeltapropError, match="pickle"):
        dp.load_model(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DeltapropError, match="not a model file"):
        dp.load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "badjson.npz", meta=np.frombuffer(b"{nope", dtype=np.uint8))
    with pytest.raises(DeltapropError, match="not valid UTF-8 JSON"):
        dp.load_model(tmp_path / "badjson.npz")


def test_save_is_atomic_and_leaves_no_temporary_files(run, tmp_path):
    run.model.save(tmp_path / "model.npz")
    run.model.save(tmp_path / "model.npz")  # replacing an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
