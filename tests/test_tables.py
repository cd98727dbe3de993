"""Issue 13, reading: CSV/TSV/Parquet through pyarrow with the delimiter detected, the cell-naming checks after
parsing, categorical and missing values (features fitted on the training rows only), the bad inputs of the issue."""

import json
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import deltaprop as dp
from deltaprop import data, limits
from deltaprop.cli import main
from deltaprop.data import features, tables
from deltaprop.errors import DeltapropError, DeltapropWarning
from conftest import one_line_error


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p




# --- the reader against pandas ---------------------------------------------------------------------------------


def test_numbers_match_pandas_across_many_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "BLOCK_BYTES", 4096)  # many blocks: the streaming must stitch them exactly
    rng = np.random.default_rng(0)
    X = np.round(rng.standard_normal((3000, 5)) * 100, 3)
    X[:, 2] = rng.integers(-5, 5, 3000)  # an integer column beside floats
    y = rng.integers(0, 3, 3000)
    p = tmp_path / "d.csv"
    pd.DataFrame({**{f"f{j}": X[:, j] for j in range(5)}, "y": y}).to_csv(p, index=False)
    ds = data.load(p)
    ref = pd.read_csv(p)
    np.testing.assert_array_equal(ds.X, ref.drop(columns="y").to_numpy(float))
    np.testing.assert_array_equal(ds.labels, ref["y"].to_numpy())
    assert ds.feature_names == [f"f{j}" for j in range(5)] and ds.classes == ["0", "1", "2"]


def test_a_later_block_with_text_is_the_cell_named_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "BLOCK_BYTES", 1024)
    rows = "".join(f"{i},{i % 2}\n" for i in range(2000))
    p = write(tmp_path, "late.csv", "x,y\n" + rows + "oops,1\n" + rows)
    with pytest.raises(DeltapropError, match=r"row 2002, column 'x': 'oops' is not a number"):
        data.load(p)


@pytest.mark.parametrize("text,sep", [("x1;x2;y\n1;2;a\n3;4;b\n5;6;a\n", None),
                                      ("x1\tx2\ty\n1\t2\ta\n3\t4\tb\n5\t6\ta\n", None),
                                      ("x1|x2|y\n1|2|a\n3|4|b\n5|6|a\n", None),
                                      ("x1;x2;y\n1,5;2;a\n3;4;b\n5;6;a\n", ";")])
def test_delimiter_detected_or_given(tmp_path, text, sep):
    p = write(tmp_path, "d.csv", text)
    if sep is None:
        ds = data.load(p)
    else:
        with pytest.raises(DeltapropError, match=r"'1,5' is not a number"):  # a decimal comma is not a number
            data.load(p, sep=sep)
        return
    assert ds.feature_names == ["x1", "x2"] and ds.classes == ["a", "b"]
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6]])


def test_semicolons_train_from_the_command_line(tmp_path, capsys):
    p = write(tmp_path, "semi.csv", "x1;x2;y\n" + "".join(f"{i};{i % 3};{'ab'[i % 2]}\n" for i in range(40)))
    assert main(["train", "--data", str(p), "--epochs", "1", "--out", str(tmp_path / "r"), "--quiet"]) == 0
    assert main(["train", "--data", str(p), "--sep", ",", "--epochs", "1", "--out", str(tmp_path / "r2"),
                 "--quiet"]) == 2
    one_line_error(capsys, "semi.csv", "the header has 1 column", "--sep")


def test_tsv_and_parquet(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "colour": ["red", "blue", "red", "blue"], "y": [0.5, 1.5, 2.0, 3.25]})
    df.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    a, b = data.load(tmp_path / "d.tsv"), data.load(tmp_path / "d.parquet")
    assert a.task == b.task == "regression"
    np.testing.assert_array_equal(a.X, b.X)
    assert a.feature_names == b.feature_names == ["a", "colour=blue", "colour=red"]
    np.testing.assert_array_equal(b.T[:, 0], df["y"])


# --- categorical and missing values ----------------------------------------------------------------------------


def mixed_csv(tmp_path, n=200, missing_every=9):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n)
    colour = rng.choice(["red", "green", "blue"], n)
    y = np.where(x + (colour == "red") * 2 - 1 > 0, "yes", "no")
    lines = ["x,colour,y"] + [f"{'' if missing_every and i % missing_every == 0 else round(x[i], 4)},{colour[i]},{y[i]}"
                              for i in range(n)]
    return write(tmp_path, "mixed.csv", "\n".join(lines) + "\n"), x, colour


def test_missing_cells_are_refused_by_default_and_named(tmp_path):
    p, _, _ = mixed_csv(tmp_path)
    with pytest.raises(DeltapropError, match=r"row 2, column 'x': '' is not a number.*--impute"):
        data.load(p)


def test_imputation_and_categories_come_from_the_training_rows_only(tmp_path):
    p, x, colour = mixed_csv(tmp_path)
    run = dp.fit(str(p), impute="mean", hidden=[4], epochs=2, seed=3)
    f = run.model.features
    tr = run.split["train"]
    present = np.array([i % 9 != 0 for i in range(len(x))])
    rows = tr[present[tr]]
    assert f.fill["x"] == pytest.approx(np.round(x, 4)[rows].mean())  # not the mean over all rows
    assert f.fill["x"] != pytest.approx(np.round(x, 4)[present].mean())
    assert f.categories == {"colour": sorted(set(colour[tr]))}
    assert run.model.feature_names == ["x", "colour=blue", "colour=green", "colour=red"]
    # scikit-learn's own transformers, fitted to the same rows, agree
    from sklearn.impute import SimpleImputer
    frame = pd.read_csv(p)
    assert SimpleImputer(strategy="mean").fit(frame[["x"]].iloc[tr]).statistics_[0] == pytest.approx(f.fill["x"])


def test_model_file_keeps_the_encoding_as_json_and_predict_applies_it(tmp_path, capsys):
    p, _, _ = mixed_csv(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--data", str(p), "--impute", "median", "--hidden", "4", "--epochs", "3", "--out", str(out),
                 "--quiet"]) == 0
    with np.load(out / "model.npz", allow_pickle=False) as z:  # plain arrays only; the encoding is JSON in meta
        assert all(z[k].dtype.kind in "fu" for k in z.files)
        meta = json.loads(z["meta"].tobytes())
    assert meta["features"]["categories"] == {"colour": ["blue", "green", "red"]}
    assert set(meta["features"]["fill"]) == {"x", "colour"} and meta["features"]["impute"] == "median"
    model = dp.load_model(out / "model.npz")
    new = write(tmp_path, "new.csv", "id,colour,x\nA,red,0.25\nB,green,\n")
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz"), str(new), "--keep", "id", "--proba"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "id,prediction,p_no,p_yes" and rows[1].startswith("A,") and rows[2].startswith("B,")
    frame = pd.DataFrame({"x": [0.25, np.nan], "colour": ["red", "green"]})
    P = model.predict_proba(frame)  # the same encoding from Python, by column name
    assert float(rows[1].split(",")[3]) == P[0, 1] and float(rows[2].split(",")[3]) == P[1, 1]
    X = np.array([[0.25, 0, 0, 1], [meta["features"]["fill"]["x"], 0, 1, 0]])  # one-hot by hand
    np.testing.assert_allclose(model.predict_proba(X), P, rtol=0, atol=0)


def test_unseen_categories_error_or_ignore(tmp_path):
    p, _, _ = mixed_csv(tmp_path, missing_every=None)
    strict = dp.fit(str(p), hidden=[4], epochs=1)
    loose = dp.fit(str(p), hidden=[4], epochs=1, unseen="ignore")
    frame = pd.DataFrame({"x": [0.1], "colour": ["purple"]})
    with pytest.raises(DeltapropError, match=r"row 1, column 'colour': category 'purple' was not in the training rows"):
        strict.model.predict(frame)
    enc = loose.model.encode(frame)
    np.testing.assert_array_equal(enc, [[0.1, 0, 0, 0]])  # no category: all zeros


def test_an_id_like_column_is_refused_with_its_name(tmp_path):
    lines = ["id,x,y"] + [f"r{i},{i},{i % 2}" for i in range(limits.MAX_CATEGORIES + 5)]
    p = write(tmp_path, "ids.csv", "\n".join(lines) + "\n")
    with pytest.raises(DeltapropError, match=r"column 'id' has \d+ categories; the limit is .*MAX_CATEGORIES"):
        data.load(p)


def test_features_from_dict_refuses_tampering():
    good = {"columns": ["a", "c"], "categories": {"c": ["x", "y"]}, "fill": {"a": 1.5, "c": "x"}, "impute": "mean",
            "unseen": "error"}
    assert features.Features.from_dict(good, "m").output_names() == ["a", "c=x", "c=y"]
    for bad in ({**good, "impute": "eval"}, {**good, "fill": {"a": "1"}}, {**good, "categories": {"zz": ["x"]}},
                {**good, "columns": ["a", "a"]}, {**good, "fill": {"a": float("nan")}}):
        with pytest.raises(DeltapropError, match="features"):
            features.Features.from_dict(bad, "m")


# --- the bad inputs: one line and status 2, or a documented behaviour ----------------------------------------


@pytest.mark.parametrize("content,needles", [
    ("", ["empty file"]),
    ("\n\n", ["empty file"]),
    ("a,b,y\n", ["no data rows"]),
    ("a,a,y\n1,2,0\n3,4,1\n", ["repeated column names", "'a'"]),
    ("a,b,y\n1,2,0\n3,4,0\n", ["only one class"]),
    ("a,b,y\n1,,0\n3,,1\n", ["column 'b' is empty in every row"]),
    ("a,b,y\n1,2,0\n3,x,1\n", ["row 3, column 'b': 'x' is not a number", "--categorical b"]),
    ("a,b,y\n1,2,0\n3,4\n", ["row 3 has 2 cells but the header has 3"]),
    (b"caf\xe9,b,y\n1,2,0\n3,4,1\n", ["not UTF-8", "offset 3", "iconv"]),
])
def test_bad_files_are_one_line_and_status_2(tmp_path, capsys, content, needles):
    p = write(tmp_path, "bad.csv", content)
    assert main(["train", "--data", str(p), "--out", str(tmp_path / "r"), "--quiet", "--epochs", "1"]) == 2
    one_line_error(capsys, "bad.csv", *needles)


def test_a_bom_is_not_part_of_the_first_name(tmp_path):
    p = write(tmp_path, "bom.csv", "\ufeffa,b,y\n1,2,0\n3,4,1\n")
    assert data.load(p).feature_names == ["a", "b"]


def test_latin1_text_is_refused_not_misread(tmp_path):
    p = write(tmp_path, "l1.csv", "a,couleur,y\n1,bleu,0\n2,vert fonc\u00e9,1\n3,bleu,1\n", encoding="latin-1")
    with pytest.raises(DeltapropError, match=r"not UTF-8 text \(byte 0xe9 at offset \d+, perhaps Latin-1\)"):
        data.load(p)


def test_a_column_99_percent_missing_is_imputed_with_a_warning(tmp_path, capsys):
    n = 300
    rows = [f"{i},{'' if i % 100 else i},{i % 2}" for i in range(n)]
    p = write(tmp_path, "sparse.csv", "a,b,y\n" + "\n".join(rows) + "\n")
    with pytest.warns(DeltapropWarning, match=r"column 'b' is 99 % missing"):
        ds = data.load(p, impute="mean")
    assert np.isfinite(ds.X).all()
    assert main(["train", "--data", str(p), "--impute", "mean", "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("deltaprop: warning: ") for line in err) and "99 % missing" in err[0]


def test_100000_columns_are_refused_quickly_from_the_header(tmp_path, capsys):
    n = 100_000
    p = write(tmp_path, "wide.csv", ",".join(f"c{j}" for j in range(n)) + "\n" + ",".join("1" * n) + "\n")
    t0 = time.perf_counter()
    assert main(["train", "--data", str(p), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert time.perf_counter() - t0 < 10
    one_line_error(capsys, "wide.csv", "100000 columns", "MAX_COLUMNS = 65536")


def test_20000_distinct_labels_are_refused_in_bounded_memory(tmp_path):
    n = 20_000
    p = write(tmp_path, "ids.csv", "x,label\n" + "".join(f"{i},id{i}\n" for i in range(n)))
    tracemalloc.start()
    try:
        with pytest.raises(DeltapropError, match=r"20000 distinct class labels; the limit is "
                                                 r"deltaprop\.limits\.MAX_CLASSES = 1000 \(raise it"):
            data.load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20  # the one-hot targets would be 20,000² floats: 3.2 GB


def test_the_class_limit_can_be_raised(tmp_path, monkeypatch):
    p = write(tmp_path, "k.csv", "x,label\n" + "".join(f"{i},c{i % 30}\n" for i in range(60)))
    monkeypatch.setattr(limits, "MAX_CLASSES", 20)
    with pytest.raises(DeltapropError, match="30 distinct class labels"):
        data.load(p)
    monkeypatch.setattr(limits, "MAX_CLASSES", 30)
    assert len(data.load(p).classes) == 30
