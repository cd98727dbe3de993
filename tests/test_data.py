"""Every loader: built-in, synthetic and user files, with malformed files giving clear errors."""

import gzip
import struct

import numpy as np
import pytest

from deltaprop import data
from deltaprop.errors import DeltapropError


# --- built-in sets against scikit-learn's own loaders ---------------------------------------------------------


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_builtin_classification_matches_sklearn(name):
    datasets = pytest.importorskip("sklearn.datasets")
    ref = getattr(datasets, f"load_{name}")()
    ds = data.load(name)
    assert ds.task == "classification"
    np.testing.assert_array_equal(ds.X, ref.data)
    np.testing.assert_array_equal(ds.labels, ref.target)
    assert np.all(ds.T.sum(axis=1) == 1) and ds.T.shape[1] == len(ref.target_names)


def test_builtin_diabetes_is_the_raw_regression_set():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_diabetes(scaled=False)
    ds = data.load("diabetes")
    assert ds.task == "regression"
    np.testing.assert_allclose(ds.X, ref.data)
    np.testing.assert_array_equal(ds.T[:, 0], ref.target)


# --- synthetic sets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,f", [("square", lambda x: x * x), ("sine", lambda x: np.sin(np.pi * x)),
                                    ("abs", np.abs), ("step", lambda x: (x >= 0).astype(float))])
def test_bishop_sets(name, f):
    ds = data.load(name, seed=3)
    assert ds.X.shape == (50, 1) and ds.T.shape == (50, 1)
    assert ds.X.min() >= -1 and ds.X.max() <= 1
    assert np.array_equal(ds.T[:, 0], f(ds.X[:, 0]))  # exactly f(x): no noise unless asked
    again, other = data.load(name, seed=3), data.load(name, seed=4)
    assert np.array_equal(again.X, ds.X) and not np.array_equal(other.X, ds.X)
    assert ds.test[0].shape == (200, 1) and not np.isin(ds.test[0], ds.X).any()


def test_bishop_noise_is_added_only_when_asked():
    ds = data.load("sine", seed=0, noise=0.1)
    resid = ds.T[:, 0] - np.sin(np.pi * ds.X[:, 0])
    assert 0.03 < resid.std() < 0.3


@pytest.mark.parametrize("name", data.PLAYGROUND)
def test_playground_sets(name):
    ds = data.load(name, seed=1, noise=0.2)
    assert ds.X.shape == (500, 2) and ds.T.shape == (500, 2) and ds.task == "classification"
    counts = ds.T.sum(axis=0)
    assert counts.min() > 100  # both classes well represented
    assert np.array_equal(data.load(name, seed=1, noise=0.2).X, ds.X)


def test_playground_labels_follow_the_rules_without_noise():
    c = data.load("circle", seed=0)
    r = np.hypot(c.X[:, 0], c.X[:, 1])
    assert np.array_equal(c.labels == 1, r < 2.5)
    x = data.load("xor", seed=0)
    assert np.array_equal(x.labels == 1, x.X[:, 0] * x.X[:, 1] >= 0)
    with pytest.raises(DeltapropError, match="noise"):
        data.load("xor", noise=0.9)


# --- CSV ------------------------------------------------------------------------------------------------------


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_named_classes(tmp_path):
    p = write(tmp_path, "d.csv", "a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    ds = data.load(p, target="kind")
    assert ds.task == "classification" and ds.classes == ["cat", "dog"]
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(ds.T, [[1, 0], [0, 1], [1, 0]])
    assert ds.feature_names == ["a", "b"]


def test_csv_target_column_anywhere_and_regression(tmp_path):
    p = write(tmp_path, "d.csv", "y,x1,x2\n0.5,1,2\n1.5,3,4\n2.25,5,6\n")
    ds = data.load(p, target="y")
    assert ds.task == "regression"
    np.testing.assert_array_equal(ds.T[:, 0], [0.5, 1.5, 2.25])
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6]])


@pytest.mark.parametrize("text,target,match", [
    ("a,b,y\n1,2,0\n3,4\n", "y", r"row 3 has 2 cells but the header has 3"),
    ("a,b,y\n1,x2,0\n3,4,1\n", "y", r"row 2, column 'b': 'x2' is not a number"),
    ("a,b,y\n1,nan,0\n3,4,1\n", "y", r"row 2, column 'b'.*NaN"),
    ("a,b,y\n1,,0\n3,4,1\n", "y", r"row 2, column 'b': '' is not a number"),
    ("a,b,y\n1,2,0\n3,4,1\n", "label", r"no column 'label'; the columns are a, b, y"),
    ("", None, r"empty file"),
    ("a,b,y\n", None, r"no data rows"),
    ("a,b,y\n1,2,0\n3,4,0\n", None, r"only one class"),
    ("a,b,y\n1,2,0.5\n3,4,1\n", None, None),  # fine: regression
])
def test_malformed_csv(tmp_path, text, target, match):
    p = write(tmp_path, "bad.csv", text)
    if match is None:
        assert data.load(p, target=target).task == "regression"
        return
    with pytest.raises(DeltapropError, match=match) as e:
        data.load(p, target=target)
    assert "bad.csv" in str(e.value)


def test_csv_regression_requested_on_labels(tmp_path):
    p = write(tmp_path, "d.csv", "a,y\n1,cat\n2,dog\n")
    with pytest.raises(DeltapropError, match=r"row 2, column 'y': 'cat' is not a number"):
        data.load(p, task="regression")


# --- NPZ ------------------------------------------------------------------------------------------------------


def test_npz_with_labels_and_with_one_hot(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "y.npz", X=X, y=np.array([2, 0, 2, 1]))
    ds = data.load(tmp_path / "y.npz")
    assert ds.task == "classification" and ds.classes == ["0", "1", "2"]
    np.testing.assert_array_equal(ds.labels, [2, 0, 2, 1])
    np.savez(tmp_path / "t.npz", X=X, T=np.eye(2)[[0, 1, 1, 0]])
    assert data.load(tmp_path / "t.npz").task == "classification"
    np.savez(tmp_path / "r.npz", X=X, T=np.array([[0.5], [1.0], [2.0], [3.0]]))
    assert data.load(tmp_path / "r.npz").task == "regression"


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "noT.npz", X=np.ones((3, 2)))
    with pytest.raises(DeltapropError, match=r"needs an array X and an array T or y"):
        data.load(tmp_path / "noT.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    with pytest.raises(DeltapropError, match="pickle"):
        data.load(tmp_path / "obj.npz")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0], [np.nan]]), y=np.array([0.5, 1.5]))
    with pytest.raises(DeltapropError, match="NaN"):
        data.load(tmp_path / "nan.npz")
    np.savez(tmp_path / "n.npz", X=np.ones((3, 2)), y=np.array([0, 1]))
    with pytest.raises(DeltapropError, match=r"y must be \(N,\) with N = 3"):
        data.load(tmp_path / "n.npz")


# --- IDX (MNIST format) ---------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype({0x08: ">u1", 0x0D: ">f4"}[code]).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels(tmp_path, gz):
    images = np.arange(5 * 2 * 3).reshape(5, 2, 3) % 256
    labels = np.array([0, 1, 2, 1, 0])
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    with opener(tmp_path / f"train-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(images))
    with opener(tmp_path / f"train-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(labels))
    ds = data.load(tmp_path / f"train-images-idx3-ubyte{suffix}")  # labels found beside the images
    np.testing.assert_array_equal(ds.X, images.reshape(5, 6))
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.classes == ["0", "1", "2"]


def test_idx_floats(tmp_path):
    arr = np.array([[1.5, -2.0], [0.25, 3.0]])
    (tmp_path / "x.idx").write_bytes(idx_bytes(arr, 0x0D))
    np.testing.assert_array_equal(data.load_idx(tmp_path / "x.idx"), arr)


@pytest.mark.parametrize("raw,match", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "bad magic number"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "bad magic number"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", r"truncated IDX data: shape \(5,\) needs 5 bytes, found 2"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "longer than its shape"),
    (b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x10", "too large"),
    (b"", "bad magic number"),
])
def test_malformed_idx(tmp_path, raw, match):
    p = tmp_path / "bad-idx1-ubyte"
    p.write_bytes(raw)
    with pytest.raises(DeltapropError, match=match) as e:
        data.load_idx(p)
    assert "bad-idx1-ubyte" in str(e.value)


def test_idx_truncated_gzip_and_mismatched_counts(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((10, 4))))
    (tmp_path / "cut-images.idx.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DeltapropError, match="cut-images"):
        data.load_idx(tmp_path / "cut-images.idx.gz")
    (tmp_path / "a-images.idx").write_bytes(idx_bytes(np.zeros((4, 2))))
    (tmp_path / "a-labels.idx").write_bytes(idx_bytes(np.array([0, 1, 0])))
    with pytest.raises(DeltapropError, match="holds 4 samples but .* 3 labels"):
        data.load(tmp_path / "a-images.idx")
    (tmp_path / "b-images.idx").write_bytes(idx_bytes(np.zeros((4, 2))))
    with pytest.raises(DeltapropError, match="no labels file"):
        data.load(tmp_path / "b-images.idx")


# --- names, splits, standardization ---------------------------------------------------------------------------


def test_unknown_name_lists_the_choices():
    with pytest.raises(DeltapropError, match="not a data set name.*digits"):
        data.load("mnist")


def test_split_is_a_seeded_partition():
    tr, va, te = data.split(100, 0.1, 0.2, np.random.default_rng(0))
    assert (len(tr), len(va), len(te)) == (70, 10, 20)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    tr2, _, _ = data.split(100, 0.1, 0.2, np.random.default_rng(0))
    assert np.array_equal(tr, tr2)
    with pytest.raises(DeltapropError):
        data.split(10, 0.5, 0.5, np.random.default_rng(0))


def test_standardizer_handles_constant_columns():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    mean, scale = data.standardizer(X)
    np.testing.assert_array_equal(mean, [2.0, 5.0])
    np.testing.assert_array_equal(scale, [1.0, 1.0])  # std of column 0 is 1; column 1 is constant → 1


@pytest.mark.parametrize("block", [2**25, 8 * 7 * 3, 1])  # one block, blocks of 3 rows, one row at a time
def test_the_standardization_in_blocks_agrees_with_numpy(monkeypatch, block):
    from deltaprop.data import dataset

    monkeypatch.setattr(dataset, "STANDARDIZE_BLOCK", block)
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 3.0, (101, 7)) * np.array([1, 1e-8, 1e8, 1, 1, 1, 1])
    X[:, 4] = 2.5  # a constant column: scale 1
    mean, scale = data.standardizer(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-15, atol=0)
    std = X.std(axis=0)
    np.testing.assert_allclose(scale[std > 0], std[std > 0], rtol=1e-13, atol=0)
    assert scale[4] == 1.0


def test_prepared_splits_in_blocks_are_the_whole_array_formula_bit_for_bit(monkeypatch):
    from deltaprop.data import dataset
    from deltaprop.training import config, model

    ds = data.load("diabetes")
    cfg = config.TrainConfig(dtype="float32", seed=1)
    monkeypatch.setattr(dataset, "STANDARDIZE_BLOCK", 8 * ds.X.shape[1] * 5)  # blocks of 5 rows
    prep = model.prepare(ds, cfg)
    m = prep.model
    for part in ("train", "val", "test"):
        X, T = prep.raw[part]
        Xs, Ts = getattr(prep, part)
        assert Xs.dtype == Ts.dtype == np.float32 and Xs.flags.c_contiguous
        np.testing.assert_array_equal(Xs, ((X - m.x_mean) / m.x_scale).astype(np.float32))
        np.testing.assert_array_equal(Ts, ((T - m.t_mean) / m.t_scale).astype(np.float32))
