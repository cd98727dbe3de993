"""``deltaprop predict MODEL INPUT.csv``: predictions of a trained model, as CSV."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..data.readers import number_cell, read_csv_rows
from ..errors import DeltapropError
from ..training import model as model_mod


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained model from a CSV of inputs")
    p.add_argument("model", help="model.npz of a run")
    p.add_argument("input", help="CSV with a header row; the model's input columns are picked by name")
    p.add_argument("--proba", action="store_true", help="also give each class's probability")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write here instead of standard output")
    p.set_defaults(func=run)


def read_inputs(path: str, model: model_mod.Model) -> np.ndarray:
    """X (N, n_in): the model's feature columns by name if the header has them all, else every column."""
    rows = read_csv_rows(path)
    if len(rows) < 2:
        raise DeltapropError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    names = model.feature_names
    if names:  # columns by name: a CSV with other names in the right number is a different data set
        missing = [n for n in names if n not in header]
        if missing:
            raise DeltapropError(f"{path}: the model needs the columns {', '.join(names)}; the header has "
                                 f"{', '.join(header)} (missing {', '.join(missing)})")
        cols = [header.index(n) for n in names]
    elif len(header) == model.net.sizes[0]:
        cols = list(range(len(header)))
    else:
        want = f"the columns {', '.join(names)}" if names else f"{model.net.sizes[0]} columns"
        raise DeltapropError(f"{path}: the model needs {want}; the header has {', '.join(header)}")
    X = np.empty((len(rows) - 1, len(cols)))
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            raise DeltapropError(f"{path}: row {i + 2} has {len(r)} cells but the header has {len(header)} columns")
        for j, c in enumerate(cols):
            X[i, j] = number_cell(r[c], path, i + 2, header[c])
    return X


def run(args) -> int:
    model = model_mod.load(args.model)
    X = read_inputs(args.input, model)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if model.task == "classification":
        P = model.predict_proba(X)
        head = ["prediction"] + ([f"p_{c}" for c in model.classes] if args.proba else [])
        w.writerow(head)
        for p in P:
            w.writerow([model.classes[int(np.argmax(p))]] + ([repr(float(v)) for v in p] if args.proba else []))
    else:
        if args.proba:
            raise DeltapropError("--proba needs a classification model; this one does regression")
        Y = model.predict(X)
        names = model.target_names if model.target_names and len(model.target_names) == Y.shape[1] else None
        w.writerow(names or (["prediction"] if Y.shape[1] == 1 else [f"prediction_{k + 1}" for k in range(Y.shape[1])]))
        for y in Y:
            w.writerow([repr(float(v)) for v in y])
    if args.output:
        Path(args.output).write_text(buf.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(buf.getvalue())
    return 0
