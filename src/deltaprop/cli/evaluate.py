"""``deltaprop evaluate MODEL --data …``: loss and accuracy (or MSE) of a trained model on a data set."""

from __future__ import annotations

from .. import data as data_mod
from ..errors import DeltapropError
from ..training import model as model_mod
from ..training.config import TrainConfig
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
    model = model_mod.load(args.model)
    info = model.info
    seed = int(info.get("seed", 0))
    ds = data_mod.load(args.data, target=args.target, task=model.task, seed=seed, noise=info.get("noise", 0.0))
    T = data_mod.align(ds, model, args.data)
    model.net.loss.check_targets(T, ds.info.get("source", args.data), ds.info.get("first_row", 1))
    X = ds.X
    if args.split != "all":
        if args.data != info.get("data") and ds.name != info.get("data"):
            raise DeltapropError(f"--split needs the data the model was trained on ({info.get('data')})")
        cfg = TrainConfig(seed=seed, val_split=info.get("val_split", 0.0), test_split=info.get("test_split", 0.0))
        prep = model_mod.prepare(data_mod.Dataset(ds.name, X, T, ds.task, ds.classes, test=ds.test), cfg)
        if args.split not in prep.raw:
            raise DeltapropError(f"the run had no {args.split} split")
        X, T = prep.raw[args.split]
    result = {"data": args.data, "split": args.split, "n": int(X.shape[0]), **model_mod.evaluate(model, X, T)}
    if args.json:
        print(dump_json(result))
    else:
        metric = model_mod.metric_name(model.task)
        value = model_mod.format_metric(model.task, result[metric])
        print(f"{args.data} ({args.split}, {result['n']} samples): loss {result['loss']:.6g}, {metric} {value}")
    return 0
