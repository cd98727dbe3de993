"""The run directory: what a training run leaves on disk, and how a killed run is picked up again.

``out/`` holds ``config.toml`` (the resolved settings, written with tomli-w), ``metrics.jsonl`` (one JSON line
per epoch, each a single append, so a kill leaves whole lines), ``checkpoint.npz`` (the whole loop state:
weights, optimizer state, generator state, position in the epoch, metrics, best weights; written atomically),
then ``model.npz``, ``metrics.json`` and ``curves.png``. :func:`reopen` restores a checkpoint so that a resumed
run ends with the same weights, bit for bit, as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import tomli_w

from ..checks import first_nonfinite
from ..engine.layered import Network
from ..errors import DeltapropError
from ..files import modelfile
from ..files import safe as safefile
from . import optim
from .config import TrainConfig, settings_from_file

Array = np.ndarray
CHECKPOINT = "checkpoint.npz"
CONFIG = "config.toml"
METRICS_LINES = "metrics.jsonl"
CHECKPOINT_FORMAT = "deltaprop-checkpoint"


class LoopState:
    """Everything that changes during training and so goes into a checkpoint."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.epoch = 0  # completed epochs
        self.batch = 0  # next mini-batch in the current epoch
        self.perm: Array | None = None  # the current epoch's order, None between epochs
        self.loss_sum = 0.0  # Σ (batch cost × batch size) so far in this epoch
        self.seen = 0
        self.seconds = 0.0  # time spent in this epoch so far
        self.history: list[dict] = []
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best: list[Array] | None = None  # the best parameters so far (early stopping)
        self.bad_epochs = 0
        self.stopped_early = False

    def meta(self) -> dict:
        return {"epoch": self.epoch, "batch": self.batch, "loss_sum": self.loss_sum, "seen": self.seen,
                "seconds": self.seconds, "rng": self.rng.bit_generator.state, "history": self.history,
                "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
                "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs, "stopped_early": self.stopped_early}


# --- checkpoints -------------------------------------------------------------------------------------------------


def save_checkpoint(path: Path, net: Network, opt: optim.Optimizer, state: LoopState, cfg: TrainConfig) -> None:
    arrays = modelfile.network_arrays(net)
    arrays.update({f"opt.{k}": v for k, v in opt.state_dict().items()})
    if state.best is not None:
        arrays.update({f"best.{n}": p for n, p in zip(net.param_names(), state.best)})
    if state.perm is not None:
        arrays["perm"] = state.perm
    arrays["meta"] = modelfile.json_bytes({"format": CHECKPOINT_FORMAT, "state": state.meta(),
                                           "config": asdict(cfg)})
    safefile.save_npz(path, arrays)


def load_checkpoint(path: Path, net: Network, opt: optim.Optimizer, state: LoopState, n_train: int) -> None:
    """Restore the loop state; a checkpoint that does not fit this run (edited, or from another) is an error
    that names it, never a crash half-way through the restore."""
    arrays = modelfile.read_npz(path, "checkpoint")
    meta = modelfile.read_meta(arrays, path)
    if meta.get("format") != CHECKPOINT_FORMAT or not isinstance(meta.get("state"), dict):
        raise DeltapropError(f"{path}: not a deltaprop checkpoint")
    s = meta["state"]
    names = net.param_names()

    def fits(key: str, p: Array) -> Array:
        a = arrays.get(key)
        if a is None or a.shape != p.shape or first_nonfinite(a) is not None:
            raise DeltapropError(f"{path}: {key} is missing, not finite or has the wrong shape for this network")
        return a

    try:
        counts = {k: s[k] for k in ("epoch", "batch", "seen", "best_epoch", "bad_epochs")}
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()):
            raise DeltapropError(f"{path}: damaged state {counts}")
        perm = arrays.get("perm")
        if perm is not None and not np.array_equal(np.sort(perm), np.arange(n_train)):
            raise DeltapropError(f"{path}: 'perm' is not an order of the {n_train} training samples")
        if not isinstance(s["history"], list) or not all(isinstance(r, dict) for r in s["history"]):
            raise DeltapropError(f"{path}: damaged history")
        for n, p in zip(names, net.params()):
            p[...] = fits(n, p)
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")}
        for k in opt_state:
            if k != "t":  # slots "m.0", "v.3", …: one array per parameter, in the order of net.params()
                fits(f"opt.{k}", net.params()[int(k.rsplit(".", 1)[1])])
        opt.load_state_dict(opt_state, net.params())
        if "best.W1" in arrays:
            state.best = [fits(f"best.{n}", p).copy() for n, p in zip(names, net.params())]
        state.perm = perm.astype(np.int64) if perm is not None else None
        state.rng.bit_generator.state = s["rng"]
        for key in ("epoch", "batch", "loss_sum", "seen", "seconds", "history", "best_epoch", "bad_epochs",
                    "stopped_early"):
            setattr(state, key, s[key])
        state.best_loss = math.inf if s["best_loss"] is None else float(s["best_loss"])
    except DeltapropError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise DeltapropError(f"{path}: damaged checkpoint ({type(e).__name__}: {e})") from None


# --- the directory -----------------------------------------------------------------------------------------------


def to_toml(d: dict) -> str:
    """A flat dict of numbers, strings, booleans and lists of numbers as TOML; None values are left out."""
    return tomli_w.dumps({k: v for k, v in d.items() if v is not None})


def start(out: Path, cfg: TrainConfig) -> None:
    """A fresh run directory: the settings, and an empty metrics file."""
    out.mkdir(parents=True, exist_ok=True)
    safefile.write_text_atomic(out / CONFIG, to_toml(asdict(cfg)))
    safefile.write_text_atomic(out / METRICS_LINES, "")


def reopen(out: Path, net: Network, opt: optim.Optimizer, state: LoopState, n_train: int) -> None:
    """Pick up the run in ``out``: its checkpoint into ``net``, ``opt`` and ``state`` if it has one (a run killed
    before its first checkpoint has only config.toml), and the metrics file rewritten from the checkpoint,
    dropping lines of epochs it does not hold (and a torn last line)."""
    out.mkdir(parents=True, exist_ok=True)
    safefile.remove_partial_writes(out)
    ckpt = out / CHECKPOINT
    if ckpt.exists():
        load_checkpoint(ckpt, net, opt, state, n_train)
    safefile.write_text_atomic(out / METRICS_LINES, "".join(json.dumps(r) + "\n" for r in state.history))


def append_metrics(out: Path, record: dict) -> None:
    """One JSON line, written with a single append so a kill leaves whole lines (a torn last line is
    rewritten from the checkpoint on resume)."""
    with open(out / METRICS_LINES, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, allow_nan=False) + "\n")
        f.flush()


def finish(out: Path, model, metrics: dict, history: list[dict], prep) -> None:
    """The end of a run: ``model.npz``, ``metrics.json`` and, where matplotlib is installed, ``curves.png``."""
    model.save(out / "model.npz")
    safefile.write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    try:
        from ..view import plots

        plots.run_figure(out / "curves.png", history, model, prep)
    except ImportError:  # matplotlib missing: the run itself is complete without its figure
        pass


def saved_config(out: Path, overrides: dict) -> dict:
    """The settings the run in ``out`` was started with, ``epochs`` replaced if given (and written back)."""
    cfg_path = out / CONFIG
    if not cfg_path.exists():
        raise DeltapropError(f"{out}: not a run directory (no config.toml)")
    saved = settings_from_file(cfg_path)
    if not isinstance(saved.get("data"), str):
        raise DeltapropError(f"{cfg_path}: no data = \"…\" setting; not the config of a run")
    bad = sorted(set(overrides) - {"epochs"})
    if bad:
        raise DeltapropError(f"a resumed run keeps its settings; only epochs may change (got {', '.join(bad)})")
    saved.update({k: v for k, v in overrides.items() if v is not None})
    if "epochs" in overrides and overrides["epochs"] is not None:
        safefile.write_text_atomic(cfg_path, to_toml(saved))
    return saved
