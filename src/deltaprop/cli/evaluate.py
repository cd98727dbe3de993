"""``deltaprop evaluate MODEL --data …``: a trained model's loss and metrics on a data set: accuracy, per-class
precision/recall/F1 and the confusion matrix for classification; MSE, MAE and R² for regression.

``--split test`` (or train, val) takes exactly the rows the run held out, from its ``split.npz``, and only if
the data are the ones it was trained on (the same fingerprint): a shuffled or edited copy is refused.
"""

from __future__ import annotations

from pathlib import Path


from .. import data as data_mod
from ..data import readers
from ..errors import DeltapropError
from ..training import model as model_mod
from ..training import runs
from .common import dump_json


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="loss and metrics of a trained model on a data set")
    p.add_argument("model", help="model.npz of a run")
    p.add_argument("--data", required=True, help="data set name or file (.csv, .tsv, .parquet, .npz, IDX)")
    p.add_argument("--target", help="the target column (default: the model's), or the labels file of IDX images")
    p.add_argument("--sep", help="a table's delimiter (default: the model's, or detected)")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="for the data the model was trained on: exactly the rows of that part of its run")
    p.add_argument("--json", action="store_true", help="print one JSON object with every metric")
    p.add_argument("--plot", metavar="FILE.png", help="save the confusion matrix (classification) or predicted "
                   "against true values (regression) as a figure")
    p.set_defaults(func=run)


def table_options(model: model_mod.Model, sep: str | None) -> dict:
    """How to read a table for this model: its categorical columns as text, missing cells if it imputes."""
    f = model.features
    return {"sep": sep or model.info.get("sep"), "categorical": list(f.categories) if f else None,
            "impute": f.impute if f else "none", "unseen": f.unseen if f else "error"}


def load_for(model: model_mod.Model, spec: str, target: str | None, sep: str | None = None):
    """The data set ``spec`` read as the model was trained: its target column by name (not the last column of
    a file that lacks it), its categorical columns and missing-value handling."""
    info = model.info
    is_table = Path(spec).suffix.lower() in readers.TABLE_SUFFIXES
    if target is None and is_table and model.target_names and len(model.target_names) == 1:
        target = model.target_names[0]
    return data_mod.load(spec, target=target, task=model.task, seed=int(info.get("seed", 0)),
                         noise=info.get("noise", 0.0), **(table_options(model, sep) if is_table else {}))


def run(args) -> int:
    from .train import one_line_warnings

    with one_line_warnings():
        return _run(args)


def _run(args) -> int:
    model = model_mod.load(args.model)
    ds = load_for(model, args.data, args.target, args.sep)
    T = data_mod.align(ds, model, args.data)
    model.net.loss.check_targets(T, ds.info.get("source", args.data), ds.info.get("first_row", 1))
    X = model.encode(ds, args.data)
    if args.split != "all":
        X, T = held_out(args, model, ds, X, T)
    result = {"data": args.data, "split": args.split, "n": int(X.shape[0]), **model_mod.evaluate(model, X, T)}
    if args.plot:
        from ..view import plots

        title = f"{args.data} ({args.split})"
        fig = (plots.confusion_matrix(result["confusion"], result["classes"], f"{title}: confusion matrix")
               if model.task == "classification" else
               plots.predicted_vs_true(model.predict(X), T, model.target_names, title))
        fig.savefig(args.plot, dpi=100)
    if args.json:
        print(dump_json(result))
    else:
        print_report(args.data, model, result)
    return 0


def held_out(args, model, ds, X, T):
    """The rows of ``args.split`` as the run stored them, refusing data other than the run's."""
    if ds.test is not None and args.split == "test":  # a set that brings its own test draw (Bishop's)
        return model.encode(ds.test[0]), data_mod.align(
            data_mod.Dataset(ds.name, ds.test[0], ds.test[1], ds.task, ds.classes), model)
    parts, fp = runs.load_split(Path(args.model).parent)
    if data_mod.fingerprint(ds.X, ds.T) != fp:
        raise DeltapropError(f"{args.data} is not the data this model was trained on ({model.info.get('data')}, "
                             f"{model.info.get('n_rows', '?')} rows): its contents differ (shuffled, edited or "
                             f"another file), so its rows are not the run's {args.split} rows; "
                             "evaluate other data with --split all")
    idx = parts[args.split]
    if idx.size == 0:
        raise DeltapropError(f"the run had no {args.split} split")
    if idx.max() >= X.shape[0]:
        raise DeltapropError(f"{Path(args.model).parent / runs.SPLIT}: row indices beyond the data's {X.shape[0]} rows")
    return X[idx], T[idx]


def print_report(name: str, model, r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    metric = model_mod.metric_name(model.task)
    line = f"{name} ({r['split']}, {r['n']} samples): loss {r['loss']:.6g}, {metric} {model_mod.format_metric(model.task, r[metric])}"
    if model.task == "regression":
        r2 = "undefined (constant targets)" if r["r2"] is None else f"{r['r2']:.4f}"
        print(f"{line}, mae {r['mae']:.6g}, r2 {r2}")
        return
    print(f"{line}, macro F1 {r['macro_f1']:.4f}")
    per = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        per.add_column(col, justify="right")
    for c, v in r["per_class"].items():
        per.add_row(c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    console.print(per)
    conf = Table(title="confusion matrix (rows: true class, columns: predicted)")
    conf.add_column("true \\ predicted")
    for c in r["classes"]:
        conf.add_column(c, justify="right")
    for c, row in zip(r["classes"], r["confusion"]):
        conf.add_row(c, *[str(v) for v in row])
    console.print(conf)
