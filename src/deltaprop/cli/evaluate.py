"""``deltaprop evaluate MODEL --data …``: loss and accuracy (or MSE) of a trained model on a data set."""

from __future__ import annotations

import numpy as np

from .. import data as data_mod
from .. import modelfile, train
from ..errors import DeltapropError
from .common import dump_json


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="loss and accuracy or MSE of a trained model on a data set")
    p.add_argument("model", help="model.npz of a run")
    p.add_argument("--data", required=True, help="data set name or file (.csv, .npz, IDX)")
    p.add_argument("--target", help="CSV target column, or the labels file of IDX images")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="for the data set the model was trained on: re-make its split (same seed) and use one part")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def aligned_targets(model: modelfile.Model, ds: data_mod.Dataset, where: str) -> np.ndarray:
    """The data set's targets in the model's output order (class names matched, not column positions)."""
    if ds.task != model.task:
        raise DeltapropError(f"{where}: a {ds.task} data set, but the model does {model.task}")
    if ds.X.shape[1] != model.net.sizes[0]:
        raise DeltapropError(f"{where}: {ds.X.shape[1]} input columns, but the model takes {model.net.sizes[0]}")
    if model.task == "regression":
        if ds.T.shape[1] != model.net.sizes[-1]:
            raise DeltapropError(f"{where}: {ds.T.shape[1]} targets, but the model gives {model.net.sizes[-1]}")
        return ds.T
    index = {c: k for k, c in enumerate(model.classes)}
    unknown = [c for c in ds.classes if c not in index]
    if unknown:
        raise DeltapropError(f"{where}: labels {unknown} are not classes of the model ({', '.join(model.classes)})")
    labels = np.array([index[ds.classes[k]] for k in ds.labels])
    return data_mod.one_hot(labels, len(model.classes))


def run(args) -> int:
    model = modelfile.load(args.model)
    info = model.info
    seed = int(info.get("seed", 0))
    ds = data_mod.load(args.data, target=args.target, task=model.task, seed=seed, noise=info.get("noise", 0.0))
    T = aligned_targets(model, ds, args.data)
    X = ds.X
    if args.split != "all":
        if args.data != info.get("data") and ds.name != info.get("data"):
            raise DeltapropError(f"--split needs the data the model was trained on ({info.get('data')})")
        cfg = train.TrainConfig(seed=seed, val_split=info.get("val_split", 0.0), test_split=info.get("test_split", 0.0))
        prep = train.prepare(data_mod.Dataset(ds.name, X, T, ds.task, ds.classes, test=ds.test), cfg)
        if args.split not in prep.raw:
            raise DeltapropError(f"the run had no {args.split} split")
        X, T = prep.raw[args.split]
    result = {"data": args.data, "split": args.split, "n": int(X.shape[0]), **train.evaluate(model, X, T)}
    if args.json:
        print(dump_json(result))
    else:
        metric = "accuracy" if model.task == "classification" else "mse"
        value = f"{100 * result[metric]:.2f} %" if metric == "accuracy" else f"{result[metric]:.6g}"
        print(f"{args.data} ({args.split}, {result['n']} samples): loss {result['loss']:.6g}, {metric} {value}")
    return 0
