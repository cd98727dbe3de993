"""``deltaprop evaluate MODEL --data …``: loss and accuracy (or MSE) of a trained model on a data set."""

from __future__ import annotations

from ..data import dataset as data_mod
from ..files import modelfile
from ..training import train
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


def run(args) -> int:
    model = modelfile.load(args.model)
    info = model.info
    seed = int(info.get("seed", 0))
    ds = data_mod.load(args.data, target=args.target, task=model.task, seed=seed, noise=info.get("noise", 0.0))
    T = data_mod.align(ds, model, args.data)
    data_mod.check_targets(T, model.net.loss.name, ds.info.get("source", args.data), ds.info.get("first_row", 1))
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
