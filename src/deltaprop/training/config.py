"""The settings of a training run, resolved once: defaults, then the data set's recipe, then a config file or
keywords, then flags (later wins); what is left "from the task" is chosen by :func:`resolve`.

A :class:`TrainConfig` is checked when it is made (:func:`config_from`, :func:`settle`) and then only read. The
random streams of a run all come from its one seed (:func:`streams`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from .. import checks, limits
from ..data import builtin
from ..errors import DeltapropError
from ..files import safe as safefile


CHECKPOINT_SECONDS = 1.0  # checkpoint_every = 0: a kill loses at most this much training and one epoch; every
# checkpoint is an fsynced file, so writing one after every tiny epoch was a tenth of a digits run's CPU time


@dataclass
class TrainConfig:
    """Every setting of a run; ``None`` means "chosen from the task" (see :func:`resolve`).

    The defaults were measured on digits: 256 ReLU units, Adam at 0.002, batches of 64, at most 60 epochs with
    early stopping (patience 10) give 97.2–98.9 % test accuracy over seeds 0–5.
    """

    data: str = "digits"
    target: str | None = None  # CSV column, or the labels file of IDX images
    task: str | None = None  # classification | regression; None: from the targets
    noise: float = 0.0  # synthetic sets only
    hidden: list[int] = field(default_factory=lambda: [256])
    activation: str = "relu"
    output: str | None = None  # classification: softmax, regression: identity
    loss: str | None = None  # classification: cross_entropy, regression: quadratic
    init: str | None = None  # he for (leaky) relu, glorot otherwise
    optimizer: str = "adam"  # sgd | momentum | nesterov | adam | adamw
    lr: float = 2e-3
    momentum: float | None = None  # sgd family; momentum/nesterov default to 0.9
    batch_size: int = 64
    epochs: int = 60
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | step | cosine
    step_size: int = 10  # step schedule: epochs between decays by gamma
    gamma: float = 0.1
    seed: int = 0
    val_split: float = 0.1
    test_split: float = 0.2
    early_stopping: int = 10  # patience in epochs on the validation loss; 0: off
    dtype: str = "float32"  # training default: the same test metric as float64 on every built-in set (docs/performance.md); float64 one flag away
    checkpoint_every: int = 0  # epochs between checkpoints; 0: after the first epoch that ends CHECKPOINT_SECONDS after the last checkpoint (Ctrl-C and the end always write one)
    sep: str | None = None  # a table's delimiter; None: detected (",", ";", tab, "|")
    categorical: list[str] | None = None  # table columns read as categories (text columns are anyway)
    impute: str = "none"  # missing cells: none (refused, the cell named) | mean | median | most_frequent
    unseen: str = "error"  # a category the training rows never showed: error | ignore (no category)
    force: bool = False  # train an output/loss pair that cannot learn the task all the same


# Settings that suit a data set better than the general defaults; a config file or a flag still wins.
RECIPES: dict[str, dict] = {
    # Bishop's figure 5.3: 3 tanh units fitted to all 50 points by full-batch descent; the test set is a fresh
    # draw, so nothing is split off. Adam at 0.01 then cosine annealing reaches the curve in 4000 steps.
    **{name: dict(hidden=[3], activation="tanh", batch_size=50, epochs=4000, lr=0.01, schedule="cosine",
                  val_split=0.0, test_split=0.0, early_stopping=0, checkpoint_every=200)
       for name in builtin.BISHOP},
    **{name: dict(hidden=[8, 8], activation="tanh", lr=0.01, epochs=100, batch_size=16, test_split=0.3)
       for name in builtin.PLAYGROUND},
    # the two arms wind 1.75 turns each: from x1, x2 alone a small net needs many epochs at a gentler rate, and
    # a validation loss flat for its first epochs would stop it early (a 49 % run did, before this recipe)
    "spiral": dict(hidden=[32, 32], activation="tanh", lr=0.003, epochs=500, batch_size=16, test_split=0.3,
                   early_stopping=0, checkpoint_every=25),
    "iris": dict(hidden=[16], lr=0.01, epochs=200, batch_size=16, early_stopping=30),
    "wine": dict(hidden=[16], lr=0.01, epochs=200, batch_size=16, early_stopping=30),
    "breast_cancer": dict(hidden=[32], lr=0.001, epochs=100, early_stopping=20),
    # diabetes is close to linear: every hidden layer we tried (ReLU or tanh, 2 to 32 units, weight decay up
    # to 1, early stopping or none) did worse on the test rows than a linear model fitted to the same training
    # rows (docs/data.md), so its default is no hidden layer, a linear model trained by backprop to convergence
    "diabetes": dict(hidden=[], lr=0.02, epochs=2000, batch_size=32, schedule="cosine", val_split=0.0,
                     early_stopping=0, checkpoint_every=200),
}


def _known(settings: dict) -> dict:
    """``settings`` without the None values (None means "not given"); unknown keys are errors."""
    settings = {k: v for k, v in (settings or {}).items() if v is not None}
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise DeltapropError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return settings


def settings_from_file(path) -> dict:
    """The settings in a TOML file (a ``--config`` file, or a run's config.toml); ``-`` in a key reads as ``_``,
    unknown keys are errors naming the file."""
    doc = safefile.parse_toml(safefile.read_text(path, "config", limits.CONFIG_BYTES), str(path))
    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for k, v in doc.items():
        key = k.replace("-", "_")
        if key not in known:
            raise DeltapropError(f"{path}: unknown setting {k!r}; known: {', '.join(sorted(known))}")
        out[key] = v
    return out


def config_from(settings: dict | None = None, *, recipe: bool = True) -> TrainConfig:
    """A config from defaults, the data set's recipe, then ``settings`` (later wins); unknown keys are errors."""
    settings = _known(settings)
    merged = dict(RECIPES.get(str(settings.get("data", TrainConfig.data)), {})) if recipe else {}
    merged.update(settings)
    return check(TrainConfig(**merged))


def settle(config: TrainConfig | dict | None, data: str, settings: dict) -> TrainConfig:
    """The run's config from what :func:`~deltaprop.training.train.fit` was given: a TrainConfig is taken as it
    is (keywords and the data's name replace its fields), a dict or None goes through :func:`config_from`."""
    if isinstance(config, TrainConfig):
        return check(replace(config, **_known(settings), data=data))
    return config_from({**(config or {}), **settings, "data": data})


def _count(c: TrainConfig, name: str, minimum: int, what: str) -> None:
    v = getattr(c, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise DeltapropError(f"{name} {what}, got {v!r}")


def check(c: TrainConfig) -> TrainConfig:
    """``c`` with every setting checked (hidden as a list, dtype by name); a DeltapropError names the first bad one."""
    if isinstance(c.hidden, int):
        c.hidden = [c.hidden]
    if not isinstance(c.hidden, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                                 for n in c.hidden):
        raise DeltapropError(f"hidden must list layer sizes ≥ 1 (e.g. 64,32), got {c.hidden!r}")
    for name in ("batch_size", "epochs", "step_size"):
        _count(c, name, 1, "must be an integer ≥ 1")
    _count(c, "checkpoint_every", 0, f"is in epochs (0: every {CHECKPOINT_SECONDS:g} s of training)")
    _count(c, "early_stopping", 0, "is a patience in epochs (0: off)")
    _count(c, "seed", 0, "must be an integer ≥ 0")
    for name in ("lr", "weight_decay", "val_split", "test_split", "noise", "gamma"):
        checks.finite_number(getattr(c, name), name)
    c.dtype = checks.as_dtype(c.dtype).name
    from ..data import features

    features.check_impute(c.impute)
    features.check_unseen(c.unseen)
    if isinstance(c.categorical, str):
        c.categorical = [s for s in c.categorical.split(",") if s]
    if c.categorical is not None and not (isinstance(c.categorical, list) and all(isinstance(s, str) for s in c.categorical)):
        raise DeltapropError(f"categorical must list column names, got {c.categorical!r}")
    if c.sep is not None and (not isinstance(c.sep, str) or len(c.sep) != 1):
        raise DeltapropError(f"sep must be one character, got {c.sep!r}")
    if not isinstance(c.force, bool):
        raise DeltapropError(f"force must be true or false, got {c.force!r}")
    return c


def resolve(cfg: TrainConfig, task: str) -> dict:
    """Output activation, loss and init from the task: the canonical pairs of seed 003, where δᴸ = a − t."""
    output = cfg.output or ("softmax" if task == "classification" else "identity")
    loss = cfg.loss or ("cross_entropy" if task == "classification" else "quadratic")
    init = cfg.init or ("he" if cfg.activation in ("relu", "leaky_relu") else "glorot")
    return {"output": output, "loss": loss, "init": init}


CANONICAL = {"classification": ("softmax", "cross_entropy"), "regression": ("identity", "quadratic")}
# the other canonical pairs (δᴸ = a − t): targets in [0, 1] per output, or distributions over the outputs
ALSO_CANONICAL = {("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")}


def check_pair(resolved: dict, task: str, n_outputs: int, force: bool = False) -> None:
    """Refuse an output/loss pair that cannot learn the task (unless ``force``), warn about one that is not the
    canonical pair (seed 003: δᴸ = a − t), naming the canonical pair.

    Cannot learn: cross-entropy −Σ t log a without softmax (a sigmoid, ReLU or identity output lowers it by
    raising *every* output, so nothing tells the classes apart: iris with sigmoid outputs reaches loss 5e-5 at
    10 % accuracy; identity outputs take the log of negatives); binary cross-entropy on outputs outside (0, 1);
    softmax over a single output, which is always 1. A regression loss other than quadratic (Itakura–Saito,
    Gaussian NLL) is taken as chosen for its targets' domain: no warning about its output.
    """
    import warnings

    from ..errors import DeltapropWarning

    output, loss = resolved["output"], resolved["loss"]
    canon = CANONICAL[task]
    why = None
    if loss == "cross_entropy" and output != "softmax":
        why = (f"{output} + cross_entropy cannot learn: −Σ t log a falls as every output rises, whatever the "
               "class")
    elif loss == "binary_cross_entropy" and output not in ("sigmoid", "softmax"):
        why = f"{output} + binary_cross_entropy cannot learn: its outputs leave (0, 1), where the log is undefined"
    elif output == "softmax" and n_outputs == 1:
        why = "softmax over one output cannot learn: it is always 1"
    if why is not None:
        if not force:
            raise DeltapropError(f"{why}; use --output {canon[0]} --loss {canon[1]} (the canonical pair for "
                                 f"{task}), or --force to train it anyway")
        warnings.warn(f"{why} (trained anyway: --force)", DeltapropWarning, stacklevel=2)
        return
    if task == "regression" and loss != "quadratic":
        return  # a loss chosen for its targets' domain (itakura_saito, gaussian_nll, …): its output is the user's
    if (output, loss) != canon and not (task == "regression" and (output, loss) in ALSO_CANONICAL) \
            and not (task == "classification" and n_outputs == 2 and (output, loss) == ("sigmoid", "binary_cross_entropy")):
        warnings.warn(f"{output} + {loss} is not the canonical pair for {task}: {canon[0]} + {canon[1]} gives "
                      "δᴸ = a − t (faster, better-conditioned learning)", DeltapropWarning, stacklevel=2)


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the split, the initial weights and the shuffling, from one seed."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
