"""The training loop: mini-batch stochastic gradient descent (seed 003, "Stochastic gradient descent").

Each step is the notes' recipe ("Final comments"): forward, storing z and a; backward, the δ's; the gradients;
then the update w ← w − η ∇C(w) (or Adam's, …) on one mini-batch. An epoch visits the training split once in
an order drawn from the seeded generator; the last mini-batch of an epoch may be smaller and is kept (it gets
its own trace/grads buffers, so nothing is allocated per step).

Everything random comes from one seed: ``SeedSequence(seed)`` gives independent streams for the split, the
initial weights and the shuffling, so the same settings give the same final weights bit for bit. The whole
loop state (weights, optimizer state, generator state, position in the epoch, metrics, best weights) is
checkpointed atomically, and a resumed run ends with the same weights as an uninterrupted one.

This module is the loop and its two entry points, :func:`fit` and :func:`resume`. Around it: the settings in
:mod:`.config`, the model, its data preparation and evaluation in :mod:`.model`, the run directory
(checkpoints, metrics files, resume) in :mod:`.runs`, the updates in :mod:`.optim`.
"""

from __future__ import annotations

import hashlib
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import data as data_mod
from ..data.dataset import fingerprint
from .. import checks, limits
from ..engine import losses as loss_mod
from ..engine import kernels
from ..engine.layered import Network
from ..errors import DeltapropError, DeltapropTypeError
from . import optim, runs
from .config import CHECKPOINT_SECONDS, TrainConfig, check_pair, config_from, resolve, settle, streams
from .model import Model, Prepared, evaluate, metric_name, prepare

Array = np.ndarray


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: a checkpoint was written first; the message says where and how to resume."""


@dataclass
class Run:
    """What :func:`fit` gives back."""

    model: Model
    metrics: dict  # the final figures, as in metrics.json
    history: list[dict]  # one record per epoch, as in metrics.jsonl
    config: TrainConfig
    out: Path | None = None
    stopped_after: int | None = None  # set when the run stopped early on purpose (a test hook), not finished
    split: dict | None = None  # row indices of the data set in each part: "train", "val", "test"


class _Interrupts:
    """Ctrl-C sets a flag that the loop reads between mini-batches, so a step is never cut in half;
    a second Ctrl-C stops at once."""

    def __init__(self):
        self.flag = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _finite_grads(grads) -> bool:
    """Whether every δ is finite, from ∂C/∂b = s Σ_n δ alone: a sum is NaN or Inf whenever one of its terms is,
    and the bias gradients are the cheap place to see all of them (one short reduction per layer, where summing
    ∂C/∂W would read every weight again). The one case left, ∂C/∂W = s δᵀa overflowing with finite δ and a,
    leaves Inf in a weight, and the next batch's cost reports it."""
    return all(math.isfinite(float(np.add.reduce(g))) for g in grads.b)


class _Diverged(Exception):
    """Raised by :func:`step` before the parameters change; the loop turns it into a DeltapropError."""


@dataclass(slots=True)
class StepBuffers:
    """What a step keeps for the next step of its batch size: the gathered batch (X, T) and the trace and
    gradients that forward and backward write into (None until the first step)."""

    X: np.ndarray
    T: np.ndarray
    trace: object = None  # engine.layered.Trace
    grads: object = None  # engine.layered.Grads

    @classmethod
    def empty(cls, n: int, X: np.ndarray, T: np.ndarray) -> "StepBuffers":
        """Buffers for batches of n rows of X and T (their widths and dtypes)."""
        return cls(np.empty((n, X.shape[1]), X.dtype), np.empty((n, T.shape[1]), T.dtype))


def step(net, opt, X, T, idx, buf: StepBuffers, lr_factor: float = 1.0) -> float:
    """One step of mini-batch training on the rows ``idx`` of X and T, as the training loop runs it; returns C.

    ``buf`` (:class:`StepBuffers`) is kept by the caller from step to step: the batch is gathered into buf.X and
    buf.T, and forward and backward write into the trace and grads of the last step, so nothing is allocated.
    The optimizer does the backward pass and the update (:meth:`~deltaprop.training.optim.Optimizer.minimize`);
    a NaN or Inf cost or δ raises _Diverged before any parameter changes.
    """
    np.take(X, idx, axis=0, out=buf.X, mode="clip")  # idx is a slice of a permutation; "raise" would buffer
    np.take(T, idx, axis=0, out=buf.T, mode="clip")
    buf.trace = net.forward(buf.X, buf.trace)
    buf.grads = opt.minimize(net, buf.trace, buf.T, buf.grads, lr_factor, check=_check_finite)
    return float(buf.grads.cost)


def _check_finite(grads) -> None:
    cost = float(grads.cost)
    if not math.isfinite(cost):
        raise _Diverged(f"loss is {cost}")
    if not _finite_grads(grads):
        raise _Diverged("gradient is NaN or Inf")


def _clean(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def dataset_from(data, task: str | None) -> tuple[data_mod.Dataset | None, str]:
    """The data set ``fit`` was given and its name: a Dataset, (X, T) arrays (a Dataset named "arrays"), or a
    name or path (None: loaded once the settings are known)."""
    if isinstance(data, data_mod.Dataset):
        return data, data.name
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DeltapropError(f"data as arrays is a pair (X, T), got a tuple of {len(data)}")
        X = data_mod.real_matrix(data[0], "X")
        try:
            T = np.asarray(data[1])
        except ValueError as e:
            raise DeltapropError(f"T must be a rectangular array ({e})") from None
        if T.ndim == 1:
            T, task, classes = data_mod.targets_from_column(T, "targets", task)
        else:
            T = data_mod.real_matrix(T, "T")
            task, classes = task or "regression", None
            if task == "classification":
                classes = [str(k) for k in range(T.shape[1])]
        return data_mod.Dataset("arrays", X, T, task, classes=classes), "arrays"
    if not isinstance(data, (str, Path)):
        raise DeltapropTypeError(f"data must be a name, a path, a Dataset or a pair (X, T), not {type(data).__name__}")
    return None, str(data)


def fit(
    data: str | data_mod.Dataset | tuple = "digits",
    config: TrainConfig | dict | None = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[dict, TrainConfig], None] | None = None,
    stop_after_epoch: int | None = None,
    verbose: bool | None = None,
    threads: int | None = None,
    **settings,
) -> Run:
    """Train a network on ``data`` (a name, a path, a :class:`~deltaprop.data.Dataset`, or (X, T) arrays).

    Settings are those of :class:`TrainConfig`, as ``config`` or keywords. With ``out`` the run directory gets
    ``config.toml``, ``metrics.jsonl``, checkpoints (every ``checkpoint_every`` epochs; by default at most one
    a second), then ``model.npz``, ``metrics.json`` and ``curves.png``; ``resume=True`` continues from its checkpoint. ``progress(record, cfg)`` is called after
    every epoch; without it a progress bar is shown (tqdm: a widget in Jupyter) where someone is watching: by
    default in Jupyter and on a terminal, not in logs or pipes; ``verbose=True`` always, ``False`` never.
    ``stop_after_epoch`` stops (with a checkpoint) after that many epochs, as a kill would.

    The run directory belongs to this call while it runs (another process is refused); a directory that
    already holds a run is refused unless ``resume=True`` or ``overwrite=True`` (its run's files are removed
    first); a resume whose settings, data or initial weights are not the run's is refused (``run.json``).
    ``threads`` caps the BLAS threads; by default :func:`deltaprop.engine.kernels.blas_threads` picks them from
    the network's size and the machine's load (the result does not depend on it).
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise DeltapropError(f"threads must be an integer ≥ 1, got {threads!r}")
    if not isinstance(resume, bool) or not isinstance(overwrite, bool):
        raise DeltapropTypeError("fit: resume and overwrite must be True or False")
    if resume and overwrite:
        raise DeltapropError("fit: resume=True continues a run, overwrite=True replaces it; not both")
    if out is not None and not isinstance(out, (str, Path)):
        raise DeltapropTypeError(f"fit: out must be a path, not {type(out).__name__}")
    if progress is not None and not callable(progress):
        raise DeltapropTypeError(f"fit: progress must be a function (record, cfg), not {type(progress).__name__}")
    if stop_after_epoch is not None and (not isinstance(stop_after_epoch, int) or isinstance(stop_after_epoch, bool)
                                         or stop_after_epoch < 1):
        raise DeltapropError(f"fit: stop_after_epoch must be a positive integer, got {stop_after_epoch!r}")
    if config is not None and not isinstance(config, (TrainConfig, dict)):
        raise DeltapropTypeError(f"fit: config must be a TrainConfig or a dict of settings, not {type(config).__name__}")
    task = settings.get("task") or (config.task if isinstance(config, TrainConfig) else (config or {}).get("task"))
    ds, name = dataset_from(data, task)
    cfg = settle(config, name, settings)
    if ds is None:
        ds = data_mod.load(cfg.data, target=cfg.target, task=cfg.task, seed=cfg.seed, noise=cfg.noise,
                           sep=cfg.sep, categorical=cfg.categorical, impute=cfg.impute, unseen=cfg.unseen)
    data_mod.check_dataset(ds)
    loss_mod.get(resolve(cfg, ds.task)["loss"]).check_targets(ds.T, ds.info.get("source", ds.name),
                                                               ds.info.get("first_row", 1))
    check_pair(resolve(cfg, ds.task), ds.task, ds.T.shape[1], cfg.force)
    prep = prepare(ds, cfg)
    if cfg.early_stopping and prep.val is None:
        cfg.early_stopping = 0  # nothing to watch: early stopping needs a validation split
    for key, value in resolve(cfg, prep.model.task).items():  # record what "from the task" chose
        setattr(cfg, key, value)
    net = build(cfg, prep)
    opt = optimizer_for(cfg)
    state = runs.LoopState(streams(cfg.seed)[2])
    out = Path(out) if out is not None else None
    if out is None:
        if resume:
            raise DeltapropError("resume needs the run directory (out=)")
        return _train(cfg, prep, net, opt, state, None, None, progress, stop_after_epoch, verbose, threads)
    data_fp = fingerprint(ds.X, ds.T)
    if ds.test is not None:  # a source's own test split is part of the data too
        data_fp = hashlib.sha256(f"{data_fp}{fingerprint(*ds.test)}".encode()).hexdigest()
    weights_fp = runs.weights_fingerprint(net.params())
    with runs.RunDir(out) as run:
        if resume:
            runs.reopen(out, net, opt, state, prep.train[0].shape[0], run, cfg, data_fp, weights_fp)
        else:
            runs.start(out, cfg, run, data_fp, weights_fp, overwrite)
        return _train(cfg, prep, net, opt, state, out, run.identity, progress, stop_after_epoch, verbose, threads)


def _train(cfg: TrainConfig, prep: Prepared, net: Network, opt, state: runs.LoopState, out: Path | None,
           identity, progress, stop_after_epoch: int | None, verbose: bool | None = None,
           threads: int | None = None) -> Run:
    """The loop and the end of a run, once the run directory (if any) is held and its identity settled."""
    model = prep.model
    model.net = net
    model.info.update(epochs_planned=cfg.epochs, seed=cfg.seed, val_split=cfg.val_split,
                      test_split=cfg.test_split, noise=cfg.noise, target=cfg.target, sep=cfg.sep, impute=cfg.impute)
    sched = optim.schedule(cfg.schedule, epochs=cfg.epochs, step_size=cfg.step_size, gamma=cfg.gamma)

    t0 = time.perf_counter()
    bar = None
    if progress is None and verbose is not False:
        from .progress import epoch_bar, watched

        if verbose or watched():
            bar = progress = epoch_bar(cfg.epochs, state.epoch, f"training on {prep.dataset.name}")
    try:
        with kernels.threads_for(net.sizes, cfg.batch_size, threads):
            stopped = _loop(net, opt, sched, prep, cfg, state, out, progress, stop_after_epoch, identity)
    finally:
        if bar is not None:
            bar.close()
    if stopped:
        return Run(model, {}, state.history, cfg, out, stopped_after=state.epoch)
    if state.best is not None and cfg.early_stopping:
        for p, best in zip(net.params(), state.best):  # the weights of the best validation loss
            p[...] = best
    metrics = final_metrics(model, prep, state, time.perf_counter() - t0)
    if out is not None:
        runs.finish(out, model, metrics, state.history, prep, identity.id if identity is not None else None)
    return Run(model, metrics, state.history, cfg, out, split=prep.split)


def build(cfg: TrainConfig, prep: Prepared) -> Network:
    """The network of a run, its initial weights drawn from the seed's init stream; its sizes within the limits
    that loading checks (:func:`deltaprop.limits.network_sizes`), so every trained model can be read back."""
    _, init_rng, _ = streams(cfg.seed)
    r = resolve(cfg, prep.model.task)
    sizes = limits.network_sizes([prep.train[0].shape[1], *cfg.hidden, prep.train[1].shape[1]],
                                 "the network to train")  # the limits a saved model is loaded with
    limits.checkpoint_arrays(sizes)  # and those its checkpoints are resumed with
    m = prep.model
    for key, v, low in (("x_mean", m.x_mean, None), ("x_scale", m.x_scale, limits.MODEL_SCALE_MIN),
                        ("t_mean", m.t_mean, None), ("t_scale", m.t_scale, limits.MODEL_SCALE_MIN)):
        if v is not None:  # the standardization a saved model is loaded with
            limits.value_range(v, f"{prep.dataset.name}: the data's {key} (from the training split)", low)
    n_all = sum(part[0].shape[0] for part in (prep.train, prep.val, prep.test) if part is not None)
    batch = min(cfg.batch_size, prep.train[0].shape[0])
    limits.check_memory(limits.training_bytes(sizes, batch, n_all, itemsize=checks.as_dtype(cfg.dtype).itemsize),
                        "the network to train",
                        f"the memory training sizes {sizes} with batches of {batch} needs (estimated; smaller "
                        "--hidden or --batch-size need less)")
    return Network(sizes, cfg.activation, r["loss"], output=r["output"], init=r["init"], seed=init_rng,
                   dtype=cfg.dtype)


def optimizer_for(cfg: TrainConfig) -> optim.Optimizer:
    kw = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.momentum is not None:
        if cfg.optimizer not in ("sgd", "momentum", "nesterov"):
            raise DeltapropError(f"momentum applies to sgd, momentum and nesterov, not {cfg.optimizer}")
        kw["momentum"] = cfg.momentum
    return optim.make(cfg.optimizer, **kw)


def _loop(net, opt, sched, prep: Prepared, cfg: TrainConfig, state: runs.LoopState, out: Path | None, progress,
          stop_after_epoch: int | None, identity=None) -> bool:
    """Run epochs until cfg.epochs or early stopping; True if stopped on request before the end."""
    X, T = prep.train
    N, B = X.shape[0], min(cfg.batch_size, X.shape[0])
    bufs = {n: StepBuffers.empty(n, X, T) for n in {B, N % B or B}}  # full batches, and the last, smaller one
    n_batches = math.ceil(N / B)
    ckpt = out / runs.CHECKPOINT if out is not None else None
    val_model = prep.model
    last_checkpoint = time.perf_counter()
    # overflow is detected below and reported as divergence, so NumPy's own warnings would only repeat it
    with _Interrupts() as interrupts, np.errstate(over="ignore", invalid="ignore"):
        while state.epoch < cfg.epochs and not state.stopped_early:
            t_start = time.perf_counter()
            if state.perm is None:
                state.perm = state.rng.permutation(N)
                state.batch, state.loss_sum, state.seen, state.seconds = 0, 0.0, 0, 0.0
            factor = sched(state.epoch)
            perm = state.perm
            while state.batch < n_batches:
                idx = perm[state.batch * B:(state.batch + 1) * B]
                try:
                    cost = step(net, opt, X, T, idx, bufs[idx.shape[0]], factor)
                except _Diverged as e:
                    raise DeltapropError(
                        f"training diverged in epoch {state.epoch + 1}, batch {state.batch + 1}: the {e}; try a "
                        f"smaller learning rate (--lr {cfg.lr / 10:g})"
                        + (f"; the last good checkpoint is in {out}" if ckpt is not None and ckpt.exists() else
                           "")) from None
                state.loss_sum += cost * idx.shape[0]
                state.seen += idx.shape[0]
                state.batch += 1
                if interrupts.flag:
                    state.seconds += time.perf_counter() - t_start
                    where = f"epoch {state.epoch + 1}, batch {state.batch}"
                    if ckpt is not None:
                        runs.save_checkpoint(ckpt, net, opt, state, cfg, identity)
                        raise TrainingInterrupted(f"interrupted in {where}; checkpoint saved: continue with "
                                                  f"deltaprop train --resume {out}")
                    raise TrainingInterrupted(f"interrupted in {where}")
            record = _end_epoch(net, state, cfg, prep, val_model, factor, t_start)
            if out is not None:
                runs.append_metrics(out, record)
                last = state.epoch >= cfg.epochs or state.stopped_early
                due = (state.epoch % cfg.checkpoint_every == 0 if cfg.checkpoint_every else
                       time.perf_counter() - last_checkpoint >= CHECKPOINT_SECONDS)
                if last or due or state.epoch == stop_after_epoch:
                    runs.save_checkpoint(ckpt, net, opt, state, cfg, identity)
                    last_checkpoint = time.perf_counter()
            if progress is not None:
                progress(record, cfg)
            if stop_after_epoch is not None and state.epoch >= stop_after_epoch and state.epoch < cfg.epochs:
                return True
    return False


def _end_epoch(net, state: runs.LoopState, cfg: TrainConfig, prep: Prepared, model: Model, factor: float,
               t_start: float) -> dict:
    train_loss = state.loss_sum / state.seen  # the mean over the epoch's mini-batches, as the weights moved
    record = {"epoch": state.epoch + 1, "train_loss": train_loss, "lr": cfg.lr * factor}
    if prep.val is not None:
        try:
            m = evaluate(model, *prep.raw["val"], detail=False)
        except DeltapropError as e:  # the weights overflowed on the validation inputs
            raise DeltapropError(f"training diverged in epoch {state.epoch + 1}: {e}; try a smaller learning "
                                 f"rate (--lr {cfg.lr / 10:g})") from None
        record["val_loss"] = m["loss"]
        record[f"val_{metric_name(model.task)}"] = m[metric_name(model.task)]
    state.epoch += 1
    state.perm = None
    state.batch = 0
    if cfg.early_stopping and prep.val is not None:
        if record["val_loss"] < state.best_loss:
            state.best_loss, state.best_epoch, state.bad_epochs = record["val_loss"], state.epoch, 0
            state.best = [p.copy() for p in net.params()]
        else:
            state.bad_epochs += 1
            if state.bad_epochs >= cfg.early_stopping:
                state.stopped_early = True
    state.seconds += time.perf_counter() - t_start
    record["seconds"] = state.seconds
    record = {k: (_clean(v) if isinstance(v, float) else v) for k, v in record.items()}
    state.history.append(record)
    return record


def final_metrics(model: Model, prep: Prepared, state: runs.LoopState, seconds: float) -> dict:
    m = metric_name(model.task)
    out = {"task": model.task, "data": prep.dataset.name, "epochs_run": state.epoch,
           "stopped_early": state.stopped_early}
    if state.best_epoch:
        out["best_epoch"] = state.best_epoch
    for part in ("train", "val", "test"):
        if part in prep.raw:
            r = evaluate(model, *prep.raw[part])
            out[f"{part}_loss"], out[f"{part}_{m}"] = r["loss"], r[m]
            out[f"n_{part}"] = int(prep.raw[part][0].shape[0])
    out["seconds"] = sum(r["seconds"] for r in state.history)
    out["wall_seconds"] = seconds
    return out


def resume(out: str | Path, *, progress=None, stop_after_epoch: int | None = None, verbose: bool | None = None,
           threads: int | None = None, **overrides) -> Run:
    """Continue the run in ``out`` from its checkpoint, with the settings it was started with."""
    if not isinstance(out, (str, Path)):
        raise DeltapropTypeError(f"resume: out must be the path of a run directory, not {type(out).__name__}")
    out = Path(out)
    if not out.is_dir():
        raise DeltapropError(f"{out}: no such run directory")
    with runs.RunDir(out):  # held from reading the settings to the end of the run
        saved = runs.saved_config(out, overrides)
        data = saved.pop("data")
        return fit(data, config_from({**saved, "data": data}, recipe=False), out=out, resume=True,
                   progress=progress, stop_after_epoch=stop_after_epoch, verbose=verbose,
                   threads=threads)
