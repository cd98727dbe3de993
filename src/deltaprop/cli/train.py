"""``deltaprop train``: train a network on a data set, with flags and/or a TOML config file (flags win)."""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from pathlib import Path

from ..checks import DTYPES
from ..engine.activations import ACTIVATIONS
from ..engine.activations import ALIASES as ACTIVATION_ALIASES
from ..engine.layered import INITS
from ..engine.losses import ALIASES as LOSS_ALIASES
from ..engine.losses import LOSSES
from ..errors import DeltapropError, DeltapropWarning
from ..training.config import settings_from_file
from ..training.model import format_metric, metric_name

FLAGS = {  # flag → (TrainConfig field, type, help)
    "--data": ("data", str, "built-in or synthetic set name, or a .csv / .npz / IDX file (default digits)"),
    "--target": ("target", str, "CSV target column (default: the last), or the labels file of IDX images"),
    "--task": ("task", str, "classification or regression (default: from the targets)"),
    "--noise": ("noise", float, "noise of a synthetic set (Playground: 0–0.5; Bishop: σ of added N(0, σ²))"),
    "--hidden": ("hidden", str, "hidden layer sizes, e.g. 64,32 (default 256); \"\" or 0: none, a linear model"),
    "--activation": ("activation", str, f"hidden activation: {', '.join(n for n, g in ACTIVATIONS.items() if g.elementwise)}, or a formula in z "
                                        "(default relu)"),
    "--output": ("output", str, "output activation, as --activation (default: softmax for classes, identity for "
                                "values)"),
    "--loss": ("loss", str, f"loss: {', '.join(LOSSES)}, or a formula in a and t (default: cross_entropy for "
                            "classes, quadratic for values)"),
    "--init": ("init", str, "weight init (default: he for relu, else glorot)"),
    "--optimizer": ("optimizer", str, "optimizer (default adam)"),
    "--lr": ("lr", float, "learning rate η (default 0.002)"),
    "--momentum": ("momentum", float, "momentum μ for sgd/momentum/nesterov"),
    "--batch-size": ("batch_size", int, "mini-batch size (default 64)"),
    "--epochs": ("epochs", int, "epochs at most (default 60)"),
    "--weight-decay": ("weight_decay", float, "L2 weight decay λ (decoupled for adamw)"),
    "--schedule": ("schedule", str, "learning-rate schedule (default constant)"),
    "--step-size": ("step_size", int, "step schedule: epochs between decays"),
    "--gamma": ("gamma", float, "step schedule: decay factor"),
    "--seed": ("seed", int, "seed of the split, the initial weights and the shuffling (default 0)"),
    "--val-split": ("val_split", float, "fraction held out for validation (default 0.1)"),
    "--test-split": ("test_split", float, "fraction held out for the test (default 0.2)"),
    "--early-stopping": ("early_stopping", int, "patience in epochs on the validation loss; 0: off (default 10)"),
    "--dtype": ("dtype", str, "float32 (default) or float64"),
    "--checkpoint-every": ("checkpoint_every", int, "epochs between checkpoints; 0: one a second at most (default 0)"),
    "--sep": ("sep", str, "a table's delimiter (default: detected among , ; tab |)"),
    "--categorical": ("categorical", str, "table columns to one-hot encode, e.g. colour,size (text columns are)"),
    "--impute": ("impute", str, "missing cells: none (refused), mean, median, most_frequent (default none)"),
    "--unseen": ("unseen", str, "a category not in the training rows: error or ignore (default error)"),
}

CHOICES = {  # flags with a fixed set of values: --help lists them, and a typo gets a "did you mean"
    "--task": ("task", ("classification", "regression")),
    "--init": ("init scheme", tuple(INITS)),
    "--optimizer": ("optimizer", ("sgd", "momentum", "nesterov", "adam", "adamw")),
    "--schedule": ("schedule", ("constant", "step", "cosine")),
    "--dtype": ("dtype", tuple(DTYPES)),
}
# flags that take a name or a formula: a lone word that is neither a name nor the formula's variable is a typo
NAMED = {
    "--activation": ("activation", (*ACTIVATIONS, *ACTIVATION_ALIASES), ("z",)),
    "--output": ("output activation", (*ACTIVATIONS, *ACTIVATION_ALIASES), ("z",)),
    "--loss": ("loss", (*LOSSES, *LOSS_ALIASES), ("a", "t")),
}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network by mini-batch gradient descent and save the run")
    p.add_argument("--config", metavar="FILE.toml", help="settings file; flags given here win")
    for flag, (_, typ, help_) in FLAGS.items():
        # the choices are listed as the metavar and checked by check_names (same words as the core's errors)
        metavar = "{" + ",".join(CHOICES[flag][1]) + "}" if flag in CHOICES else None
        p.add_argument(flag, type=typ, default=None, help=help_, metavar=metavar)
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/DATA-TIME)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its files are removed first)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, only the final lines")
    p.add_argument("--force", action="store_true", default=None,
                   help="train an output/loss pair that cannot learn the task all the same")
    p.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads (default: 1 for small networks, else the cores the machine has free)")
    p.add_argument("--stop-after-epoch", type=int, help=__import__("argparse").SUPPRESS)  # test hook
    p.set_defaults(func=run)


def parse_hidden(text) -> list[int]:
    """"64,32" → [64, 32]; "" or "0" → [] (no hidden layer: a linear model, as ``hidden=[]`` in Python)."""
    if isinstance(text, list):
        return text
    if str(text).strip() in ("", "0"):
        return []
    try:
        sizes = [int(s) for s in str(text).replace(" ", "").split(",") if s]
    except ValueError:
        raise DeltapropError(f"--hidden must be comma-separated layer sizes such as 64,32, got {text!r}") from None
    if not sizes:
        raise DeltapropError("--hidden needs layer sizes such as 64,32 (or \"\" for none)")
    return sizes


def check_names(args) -> None:
    """A mistyped activation, loss or data set name is refused with a suggestion, before anything is read."""
    import difflib
    import re

    def suggest(value, names) -> str:
        close = difflib.get_close_matches(value, names, n=2, cutoff=0.6)
        return f"did you mean {' or '.join(map(repr, close))}? " if close else ""

    for flag, (what, names) in CHOICES.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and value not in names:
            raise DeltapropError(f"{flag}: unknown {what} {value!r}; {suggest(value, names)}"
                                 f"choose from {', '.join(names)}")
    for flag, (what, names, variables) in NAMED.items():
        value = getattr(args, flag[2:])
        if value is None or not re.fullmatch(r"[A-Za-z_]\w*", value):
            continue  # unset, or a formula
        if value.lower() not in names and value not in variables:
            raise DeltapropError(f"{flag}: unknown {what} {value!r}; {suggest(value.lower(), names)}choose from "
                                 f"{', '.join(names)}, or give a formula in {' and '.join(variables)}")
    data = args.data
    if data is not None and not Path(data).exists() and re.fullmatch(r"[A-Za-z_]\w*", data):
        from ..data.builtin import NAMES

        if data not in NAMES and suggest(data, NAMES):
            raise DeltapropError(f"--data: {data!r} is no file and no data set name; {suggest(data, NAMES)}"
                                 f"(names: {', '.join(NAMES)})")


def run(args) -> int:
    quiet = args.quiet
    check_names(args)
    settings = settings_from_file(args.config) if args.config else {}
    for flag, (key, _, _) in FLAGS.items():
        v = getattr(args, key)
        if v is not None:
            settings[key] = v
    if args.force:
        settings["force"] = True
    if "hidden" in settings:
        settings["hidden"] = parse_hidden(settings["hidden"])
    if isinstance(settings.get("sep"), str):
        settings["sep"] = settings["sep"].replace("\\t", "\t")  # --sep '\t' as typed in a shell
    reporter = Reporter(quiet)
    with one_line_warnings():
        return _train(args, settings, reporter, quiet)


@contextlib.contextmanager
def one_line_warnings():
    """deltaprop's warnings (a non-canonical output/loss pair, a column mostly missing) as one line on stderr,
    ``deltaprop: warning: …``, while the command goes on."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", DeltapropWarning)
        old = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, DeltapropWarning):
                print(f"deltaprop: warning: {' '.join(str(message).split())}", file=sys.stderr)
            else:
                old(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = old


def _train(args, settings, reporter, quiet) -> int:
    from ..training import train as tr

    try:
        if args.resume:
            extra = sorted(set(settings) - {"epochs"})
            if extra or args.out:
                raise DeltapropError("--resume continues a run with its saved settings; only --epochs may be given")
            if args.overwrite:
                raise DeltapropError("--resume continues the run in DIR, --overwrite replaces it; not both")
            result = tr.resume(args.resume, progress=reporter, stop_after_epoch=args.stop_after_epoch,
                               epochs=settings.get("epochs"), threads=args.threads)
        else:
            from ..training import config

            cfg = config.config_from(settings)
            out = Path(args.out) if args.out else default_out(cfg.data)
            reporter.start(cfg, out)
            result = tr.fit(cfg.data, cfg, out=out, progress=reporter, stop_after_epoch=args.stop_after_epoch,
                            overwrite=args.overwrite, threads=args.threads)
    except tr.TrainingInterrupted as e:
        reporter.close()
        print(f"deltaprop: {e}", file=sys.stderr)
        return 130
    finally:
        reporter.close()
    if result.stopped_after is not None:
        print(f"stopped after epoch {result.stopped_after}; continue with deltaprop train --resume {result.out}")
        return 0
    summary(result, quiet)
    return 0


def default_out(data: str) -> Path:
    name = Path(data).stem if ("/" in data or "." in data) else data
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


class Reporter:
    """Progress after each epoch: a rich progress bar on a terminal; in logs (not a TTY) one line per tenth
    of the run; nothing with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.bar = None
        self.task = None

    def start(self, cfg, out) -> None:
        if not self.quiet:
            print(f"training on {cfg.data}; run directory {out}")

    def _open(self, cfg) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), transient=False)
        self.bar.start()
        self.task = self.bar.add_task("", total=cfg.epochs)

    def __call__(self, record: dict, cfg) -> None:
        if self.quiet:
            return
        text = f"loss {record['train_loss']:.4g}"
        if "val_loss" in record:
            text += f"  val loss {record['val_loss']:.4g}"
        for k in ("val_accuracy", "val_mse"):
            if k in record:
                text += f"  {k.replace('_', ' ')} {record[k]:.4g}"
        if self.tty:
            if self.bar is None:
                self._open(cfg)
            self.bar.update(self.task, completed=record["epoch"], description=text)
        else:
            every = max(1, cfg.epochs // 10)
            if record["epoch"] % every == 0 or record["epoch"] == 1 or record["epoch"] == cfg.epochs:
                print(f"epoch {record['epoch']}/{cfg.epochs}  {text}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def summary(result, quiet: bool) -> None:
    m = result.metrics
    task = m["task"]
    metric = metric_name(task)
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{m['data']}: {m['epochs_run']} epochs",
                      caption=f"stopped early; weights of epoch {m['best_epoch']}" if m.get("stopped_early") else None)
        for col in ("split", "samples", "loss", metric):
            table.add_column(col, justify="right")
        for part in ("train", "val", "test"):
            if f"{part}_loss" in m:
                table.add_row(part, str(m[f"n_{part}"]), f"{m[f'{part}_loss']:.4g}", format_metric(task, m[f"{part}_{metric}"], 4))
        Console().print(table)
    best = next((p for p in ("test", "val", "train") if f"{p}_{metric}" in m), None)
    print(f"{best} {metric}: {format_metric(task, m[f'{best}_{metric}'], 4)}  ({m['seconds']:.1f} s)  run directory: "
          f"{result.out}")

