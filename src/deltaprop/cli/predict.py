"""``deltaprop predict MODEL INPUT``: predictions of a trained model, as CSV.

INPUT is a table (CSV/TSV with a header row, or Parquet: the model's input columns picked by name, through its
feature encoding), an .npz (array ``X``, the network's inputs) or IDX images. ``--keep COL`` copies columns of a
table (IDs) into the output, before the predictions.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..data import features, readers
from ..errors import DeltapropError
from ..files import safe as safefile
from ..training import model as model_mod


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained model from a table, .npz or IDX file of inputs")
    p.add_argument("model", help="model.npz of a run")
    p.add_argument("input", help="CSV/TSV with a header row or Parquet (the model's columns by name), .npz (X), or IDX")
    p.add_argument("--proba", action="store_true", help="also give each class's probability")
    p.add_argument("--keep", action="append", default=[], metavar="COL",
                   help="copy this column of the input table into the output (e.g. an ID); may be repeated")
    p.add_argument("--sep", help="the table's delimiter (default: the model's, or detected)")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write here instead of standard output")
    p.set_defaults(func=run)


def read_inputs(path: str, model: model_mod.Model, keep=(), sep: str | None = None):
    """(X (N, n_in) in the user's units, kept columns {name: (N,) text}) from a table, .npz or IDX file."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in readers.TABLE_SUFFIXES:
        return _table_inputs(p, model, list(keep), sep)
    if keep:
        raise DeltapropError(f"{path}: --keep picks columns of a table (CSV, TSV, Parquet), not of {suffix or 'IDX'}")
    if suffix == ".npz":
        arrays = readers.load_npz(p)
        if "X" not in arrays:
            raise DeltapropError(f"{path}: needs an array X (found {sorted(arrays)})")
        X = arrays["X"]
        X = X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    else:
        images = readers.load_idx(p)
        X = images.reshape(images.shape[0], -1)
    if model.features is not None and model.features.categories:
        raise DeltapropError(f"{path}: this model one-hot encodes {', '.join(model.features.categories)}; give its "
                             "inputs as a table with those columns")
    return X, {}


def _table_inputs(path: Path, model, keep: list[str], sep: str | None):
    f = model.features
    names = f.columns if f is not None else model.feature_names
    header = readers.table_header(path, sep or model.info.get("sep"))
    if names:  # columns by name: a CSV with other names in the right number is a different data set
        missing = [n for n in names if n not in header]
        if missing:
            raise DeltapropError(f"{path}: the model needs the columns {', '.join(names)}; the header has "
                                 f"{', '.join(header)} (missing {', '.join(missing)})")
    elif len(header) - len([k for k in keep if k in header]) == model.net.sizes[0]:
        names = [h for h in header if h not in keep]
    else:
        raise DeltapropError(f"{path}: the model needs {model.net.sizes[0]} columns; the header has "
                             f"{', '.join(header)}")
    absent = [k for k in keep if k not in header]
    if absent:
        raise DeltapropError(f"{path}: --keep {', '.join(absent)}: no such column; the columns are "
                             f"{', '.join(header)}")
    text = list(keep) + (list(f.categories) if f is not None else [])
    table = readers.read_table(path, False, sep=sep or model.info.get("sep"), text_columns=text,
                               columns=list(dict.fromkeys([*(names or []), *keep])))
    kept = {k: table.text[k] for k in keep}
    for k in keep:  # kept columns are carried, not inputs (unless the model reads them too)
        if names is None or k not in names:
            table.names.remove(k)
            del table.text[k]
    if names is None:
        names = table.names
    if f is not None:
        X = features.transform(f, readers.table_frame(table), str(path), table.first_row)
    else:
        X, got, _, _ = readers.features_from_table(table)
        X = X[:, [got.index(n) for n in names]]
    return X, kept


def run(args) -> int:
    model = model_mod.load(args.model)
    X, kept = read_inputs(args.input, model, args.keep, args.sep)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keep_cols = [["" if v is None else v for v in kept[k]] for k in args.keep]
    if model.task == "classification":
        P = model.predict_proba(X)
        head = list(args.keep) + ["prediction"] + ([f"p_{c}" for c in model.classes] if args.proba else [])
        w.writerow(head)
        for i, p in enumerate(P):
            w.writerow([col[i] for col in keep_cols] + [model.classes[int(np.argmax(p))]]
                       + ([repr(float(v)) for v in p] if args.proba else []))
    else:
        if args.proba:
            raise DeltapropError("--proba needs a classification model; this one does regression")
        Y = model.predict(X)
        names = model.target_names if model.target_names and len(model.target_names) == Y.shape[1] else None
        w.writerow(list(args.keep) + (names or (["prediction"] if Y.shape[1] == 1
                                                else [f"prediction_{k + 1}" for k in range(Y.shape[1])])))
        for i, y in enumerate(Y):
            w.writerow([col[i] for col in keep_cols] + [repr(float(v)) for v in y])
    if args.output:
        safefile.write_text_atomic(args.output, buf.getvalue())
    else:
        sys.stdout.write(buf.getvalue())
    return 0
