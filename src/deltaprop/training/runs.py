"""The run directory: what a training run leaves on disk, who owns it, and how a killed run is picked up again.

``out/`` holds ``run.json`` (the run's identity: an id, the settings, fingerprints of the data and of the
initial weights; written first, once), ``config.toml`` (the resolved settings, written with tomli-w), ``metrics.jsonl`` (one JSON line
per epoch, each a single append, so a kill leaves whole lines), ``checkpoint.npz`` (the whole loop state:
weights, optimizer state, generator state, position in the epoch, metrics, best weights; written atomically),
then ``model.npz``, ``metrics.json`` and ``curves.png``. :func:`reopen` restores a checkpoint so that a resumed
run ends with the same weights, bit for bit, as an uninterrupted one.

A directory belongs to one run at a time: :class:`RunDir` holds an OS lock (``flock`` on ``.deltaprop.lock``;
the kernel releases it when the process ends, even by SIGKILL) for as long as a process trains or resumes there,
so a second process is refused; :func:`start` refuses a directory that already holds a run unless told to
replace it (``overwrite``, which removes the run's files first); :func:`reopen` refuses a run whose settings,
data or initial weights are not those its identity records, and a checkpoint of another run. Temporary files
are named by the run id (``.checkpoint.npz.ID-XXXXXXXX.tmp``), and only the run's own are ever removed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tomli_w

try:
    import fcntl
except ImportError:  # not POSIX: no OS lock (the rest of the run directory's rules still hold)
    fcntl = None

from .. import limits
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
RUN = "run.json"
SPLIT = "split.npz"  # the row indices of each part and the data's fingerprint
RUN_FORMAT = "deltaprop-run"
LOCK = ".deltaprop.lock"
# the run's files, in the order --overwrite removes them: the checkpoint first (so that no interrupted clearing
# leaves a checkpoint behind without the rest of its run), the identity last
RUN_FILES = (CHECKPOINT, "model.npz", SPLIT, "metrics.json", "curves.png", METRICS_LINES, CONFIG, RUN)
_RUN_ID = re.compile(r"[0-9a-f]{32}")


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


def save_checkpoint(path: Path, net: Network, opt: optim.Optimizer, state: LoopState, cfg: TrainConfig,
                    identity: "Identity | None" = None) -> None:
    """The whole loop state, atomically; with the run's ``identity`` (its id and data fingerprint) in the
    metadata, so that a checkpoint of another run is recognised as such on resume."""
    arrays = modelfile.network_arrays(net)
    arrays.update({f"opt.{k}": v for k, v in opt.state_dict().items()})
    if state.best is not None:
        arrays.update({f"best.{n}": p for n, p in zip(net.param_names(), state.best)})
    if state.perm is not None:
        arrays["perm"] = state.perm
    meta = {"format": CHECKPOINT_FORMAT, "state": state.meta(), "config": asdict(cfg)}
    if identity is not None:
        meta.update(run=identity.id, data=identity.data)
    arrays["meta"] = modelfile.json_bytes(meta)
    safefile.save_npz(path, arrays, identity.id if identity is not None else None)


def _checkpoint_member(name: str) -> bool:
    """The arrays a checkpoint holds: the weights, their best copies, optimizer slots, the order, the metadata."""
    return re.fullmatch(r"(best\.)?[Wb][1-9][0-9]*|opt\.[a-z_]+(\.[0-9]+)?|perm|meta", name) is not None


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_state(s: dict, path, n_train: int, batch_size: int | None) -> None:
    """Every field of a checkpoint's loop state, by type and range, before any of it is used."""
    counts = {k: s.get(k) for k in ("epoch", "batch", "seen", "best_epoch", "bad_epochs")}
    bad = [k for k, v in counts.items() if not _count(v)]
    bad += [k for k in ("loss_sum", "seconds") if not _number(s.get(k))]
    bad += [k for k in ("best_loss",) if s.get(k) is not None and not _number(s.get(k))]
    bad += [k for k in ("stopped_early",) if not isinstance(s.get(k), bool)]
    bad += [] if isinstance(s.get("rng"), dict) else ["rng"]
    if bad:
        raise DeltapropError(f"{path}: damaged checkpoint: {', '.join(bad)} "
                             f"({', '.join(f'{k}={s.get(k)!r}' for k in bad)[:200]})")
    if s["seen"] > n_train:
        raise DeltapropError(f"{path}: damaged checkpoint: seen={s['seen']} is past the {n_train} training samples")
    if batch_size is not None and s["batch"] > math.ceil(n_train / batch_size):
        raise DeltapropError(f"{path}: damaged checkpoint: batch {s['batch']} is past the end of an epoch of "
                             f"{math.ceil(n_train / batch_size)} mini-batches")
    history = s.get("history")
    if not isinstance(history, list) or len(history) != s["epoch"] or not all(
            isinstance(r, dict) and r.get("epoch") == i + 1 and _number(r.get("seconds"))
            and all(v is None or _number(v) for v in r.values()) for i, r in enumerate(history)):
        raise DeltapropError(f"{path}: damaged checkpoint: history must hold one record of numbers per epoch "
                             f"({s['epoch']})")


def load_checkpoint(path: Path, net: Network, opt: optim.Optimizer, state: LoopState, n_train: int,
                    batch_size: int | None = None) -> dict:
    """Restore the loop state; a checkpoint that does not fit this run (edited, or from another) is an error
    that names it, never a crash half-way through the restore. Returns the checkpoint's metadata."""
    arrays = safefile.read_npz(path, "checkpoint", limits.MODEL_FILE_BYTES, manifest=_checkpoint_member)
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
        _check_state(s, path, n_train, batch_size)
        perm = arrays.get("perm")
        if perm is not None and (perm.dtype.kind not in "iu" or perm.ndim != 1
                                 or not np.array_equal(np.sort(perm), np.arange(n_train))):
            raise DeltapropError(f"{path}: 'perm' is not an order of the {n_train} training samples")
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
        return meta
    except DeltapropError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise DeltapropError(f"{path}: damaged checkpoint ({type(e).__name__}: {e})") from None


# --- the directory -----------------------------------------------------------------------------------------------


def to_toml(d: dict) -> str:
    """A flat dict of numbers, strings, booleans and lists of numbers as TOML; None values are left out."""
    return tomli_w.dumps({k: v for k, v in d.items() if v is not None})


@dataclass
class Identity:
    """Who a run is: its id, its settings as started, and fingerprints (sha256) of its data set and of its
    initial weights. Written once to ``run.json`` when the run starts; checked on every resume."""

    id: str
    settings: dict
    data: str  # deltaprop.data.dataset.fingerprint of the data set's arrays (and its own test split)
    weights: str  # sha256 of the initial weights, before any step
    started: str = ""

    def to_json(self) -> str:
        return json.dumps({"format": RUN_FORMAT, **asdict(self)}, indent=2, allow_nan=False) + "\n"


def weights_fingerprint(params: list[Array]) -> str:
    """sha256 over the dtype, shape and bytes of each parameter array, in order."""
    h = hashlib.sha256()
    for p in params:
        a = np.ascontiguousarray(p)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def settings_of(cfg: TrainConfig) -> dict:
    """The settings as JSON keeps them (lists, not tuples), so that two equal configurations compare equal."""
    return json.loads(json.dumps(asdict(cfg)))


def read_identity(out: Path) -> Identity | None:
    """The identity in ``out/run.json``, None if there is none; a damaged one is an error naming it."""
    path = out / RUN
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink():
        raise DeltapropError(f"{path} is a symlink; a run's identity is its own file, never a link")
    d = safefile.parse_json(safefile.read_text(path, "run identity", limits.RUN_FILE_BYTES).encode(), str(path))
    if (not isinstance(d, dict) or d.get("format") != RUN_FORMAT or not _RUN_ID.fullmatch(str(d.get("id")))
            or not isinstance(d.get("settings"), dict)
            or not all(isinstance(d.get(k), str) and re.fullmatch(r"[0-9a-f]{64}", d[k]) for k in ("data", "weights"))):
        raise DeltapropError(f"{path}: not the identity of a deltaprop run (format, id, settings, data, weights)")
    return Identity(d["id"], d["settings"], d["data"], d["weights"], str(d.get("started", "")))


class RunDir:
    """Ownership of a run directory for as long as the ``with`` block runs: an exclusive ``flock`` on
    ``DIR/.deltaprop.lock``. The kernel drops the lock when the process ends however it ends (SIGKILL
    included), so a stale lock never blocks a later run; a live holder makes any other process refuse."""

    _held: dict[str, "RunDir"] = {}  # directories this process holds: a nested RunDir shares the lock

    def __init__(self, out: Path):
        self.out = Path(out)
        self.fd: int | None = None
        self.identity: Identity | None = None
        self.outer: RunDir | None = None

    def __enter__(self) -> "RunDir":
        key = (os.path.realpath(self.out), threading.get_ident())  # another thread takes its own lock: refused
        if key in RunDir._held:  # resume() holds the directory while it reads the settings, then fit() runs
            self.outer = RunDir._held[key]
            return self.outer
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            raise DeltapropError(f"{self.out}: cannot use as a run directory ({e.strerror})") from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise DeltapropError(f"{self.out} is in use by another deltaprop process"
                                 + (f" (pid {holder})" if holder.isdigit() else "")
                                 + "; wait for it to finish, or train into another --out") from None
        if fcntl is not None:  # who holds it, for the message a second process prints
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        RunDir._held[key] = self
        return self

    def __exit__(self, *exc) -> None:
        if self.outer is not None:
            self.outer = None
            return
        RunDir._held.pop((os.path.realpath(self.out), threading.get_ident()), None)
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None

    @property
    def id(self) -> str | None:
        return self.identity.id if self.identity is not None else None


def holds_run(out: Path) -> list[str]:
    """The files of a run that ``out`` holds (a directory whose start was cut before config.toml holds none)."""
    return [name for name in (CONFIG, CHECKPOINT, "model.npz", METRICS_LINES) if (out / name).exists()
            or (out / name).is_symlink()]


def _remove_own_temps(out: Path, identity: Identity | None) -> None:
    if identity is not None:
        safefile.remove_partial_writes(out, identity.id)
    # run.json's own temporary file is written before any identity exists on disk: its name holds a run id
    for tmp in out.glob(f".{RUN}.*-*.tmp"):
        owner = tmp.name[len(RUN) + 2:].split("-")[0]
        if _RUN_ID.fullmatch(owner):
            tmp.unlink(missing_ok=True)


def start(out: Path, cfg: TrainConfig, run: RunDir | None = None, data: str = "", weights: str = "",
          overwrite: bool = False) -> Identity:
    """A fresh run in ``out`` (held by ``run``): its identity, the settings and an empty metrics file.

    A directory that already holds a run is refused, unless ``overwrite``: then the run's files are removed
    first (:data:`RUN_FILES`, checkpoint first; files that are not a run's are left alone)."""
    out = Path(out)
    held = holds_run(out)
    if held and not overwrite:
        raise DeltapropError(f"{out} already holds a run ({', '.join(held)}); continue it with --resume {out}, "
                             "train into another --out, or replace it with --overwrite")
    try:  # the run being replaced (or one whose start was cut short): only to find its temporary files
        old = read_identity(out)
    except DeltapropError:
        old = None
    _remove_own_temps(out, old)
    if overwrite:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        safefile.fsync_dir(out)
    identity = Identity(secrets.token_hex(16), settings_of(cfg), data, weights,
                        time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if run is not None:
        run.identity = identity
    safefile.write_text_atomic(out / RUN, identity.to_json(), identity.id)
    safefile.write_text_atomic(out / CONFIG, to_toml(asdict(cfg)), identity.id)
    safefile.write_text_atomic(out / METRICS_LINES, "", identity.id)
    return identity


def reopen(out: Path, net: Network, opt: optim.Optimizer, state: LoopState, n_train: int,
           run: RunDir | None = None, cfg: TrainConfig | None = None, data: str | None = None,
           weights: str | None = None) -> Identity | None:
    """Pick up the run in ``out``: its checkpoint into ``net``, ``opt`` and ``state`` if it has one (a run killed
    before its first checkpoint has only run.json and config.toml), and the metrics file rewritten from the
    checkpoint, dropping lines of epochs it does not hold (and a torn last line).

    With ``cfg``, ``data`` and ``weights`` (the settings, the data fingerprint and the initial weights'
    fingerprint of this process) the run's identity is checked first: a resume that would not continue the
    same run is refused, saying what differs; so is a checkpoint of another run."""
    out = Path(out)
    identity = read_identity(out)
    if identity is None and cfg is not None:
        raise DeltapropError(f"{out}: no {RUN} (the run's identity), so nothing says this checkpoint and these "
                             f"settings belong together; train again with --overwrite")
    if identity is not None and cfg is not None:
        _check_identity(out, identity, cfg, data, weights)
    if run is not None:
        run.identity = identity
    _remove_own_temps(out, identity)
    ckpt = out / CHECKPOINT
    if ckpt.exists() or ckpt.is_symlink():
        meta = load_checkpoint(ckpt, net, opt, state, n_train, cfg.batch_size if cfg is not None else None)
        if identity is not None:
            if meta.get("run") != identity.id:
                raise DeltapropError(f"{ckpt} belongs to another run (id {str(meta.get('run'))[:40]!r}), not to the "
                                     f"run of {out / RUN} (id {identity.id}); nothing was resumed")
            if meta.get("data") != identity.data:
                raise DeltapropError(f"{ckpt}: its data fingerprint {str(meta.get('data'))[:16]}… is not the "
                                     f"run's {identity.data[:16]}…; nothing was resumed")
    safefile.write_text_atomic(out / METRICS_LINES, "".join(json.dumps(r) + "\n" for r in state.history),
                               identity.id if identity is not None else None)
    return identity


def _check_identity(out: Path, identity: Identity, cfg: TrainConfig, data: str | None, weights: str | None) -> None:
    now = settings_of(cfg)
    changed = sorted(k for k in set(now) | set(identity.settings)
                     if k != "epochs" and now.get(k) != identity.settings.get(k))
    if changed:
        k = changed[0]
        raise DeltapropError(f"{out / CONFIG}: setting {k} is {now.get(k)!r} but the run was started with "
                             f"{identity.settings.get(k)!r} ({out / RUN}); a resumed run keeps its settings"
                             + (f" (also changed: {', '.join(changed[1:])})" if len(changed) > 1 else ""))
    if data is not None and data != identity.data:
        raise DeltapropError(f"the data {cfg.data} changed since the run in {out} began (fingerprint {data[:16]}…, "
                             f"the run's is {identity.data[:16]}…); resuming would mix two data sets: train "
                             "again with --overwrite, or into another --out")
    if weights is not None and weights != identity.weights:
        raise DeltapropError(f"the initial weights of {out}'s settings differ from those the run began with "
                             f"(fingerprint {weights[:16]}…, the run's is {identity.weights[:16]}…): another "
                             "deltaprop version? Nothing was resumed")


def append_metrics(out: Path, record: dict) -> None:
    """One JSON line, written with a single append so a kill leaves whole lines (a torn last line is
    rewritten from the checkpoint on resume); a symlink in its place is never followed."""
    try:
        safefile.append_line(out / METRICS_LINES, json.dumps(record, allow_nan=False) + "\n")
    except OSError as e:
        raise DeltapropError(f"{out / METRICS_LINES}: cannot append ({e.strerror}); is it a symlink?") from None



def save_split(out: Path, split: dict, fingerprint: str, owner: str | None = None) -> None:
    """``split.npz``: the row indices of each part and the data's fingerprint (sha256), so that
    ``evaluate --split test`` takes exactly the held-out rows, and only of the same data."""
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in split.items()}
    arrays["meta"] = modelfile.json_bytes({"fingerprint": fingerprint})
    safefile.save_npz(out / SPLIT, arrays, owner)


def load_split(out: Path) -> tuple[dict, str]:
    """(indices per part, fingerprint) from a run directory's split.npz, checked."""
    path = Path(out) / SPLIT
    if not path.exists():
        raise DeltapropError(f"{out}: no {SPLIT} beside the model; --split needs the run directory the model "
                             "was trained in")
    arrays = safefile.read_npz(path, "split", limits.MODEL_FILE_BYTES,
                               manifest=lambda name: name in ("train", "val", "test", "meta"))
    meta = modelfile.read_meta(arrays, path)
    fp = meta.get("fingerprint")
    parts = {k: arrays.get(k) for k in ("train", "val", "test")}
    if not isinstance(fp, str) or any(v is None or v.ndim != 1 or v.dtype.kind not in "iu" or (v < 0).any()
                                      for v in parts.values()):
        raise DeltapropError(f"{path}: damaged split file")
    return parts, fp


def finish(out: Path, model, metrics: dict, history: list[dict], prep, owner: str | None = None) -> None:
    """The end of a run: ``model.npz``, ``split.npz``, ``metrics.json`` and, where matplotlib is installed,
    ``curves.png``; each written atomically through a temporary file of the run's own (a symlink planted at any
    of these names is replaced, never followed)."""
    import io

    model.save(out / "model.npz", owner=owner)
    save_split(out, prep.split, prep.fingerprint, owner)
    safefile.write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n", owner)
    try:
        from ..view import plots

        png = io.BytesIO()
        plots.run_figure(png, history, model, prep, metrics)
        safefile.write_bytes_atomic(out / "curves.png", png.getvalue(), owner)
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
        ident = read_identity(out)
        safefile.write_text_atomic(cfg_path, to_toml(saved), ident.id if ident is not None else None)
    return saved
