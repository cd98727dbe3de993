"""Pieces several subcommands share: reading a network file and the batch to run it on."""

from __future__ import annotations

import json

import numpy as np

from ..data import readers as data
from ..files import bundled, netfile
from ..errors import DeltapropError

NO_BATCH = ("no batch: give --data DATA.npz, or --x … --t …, or add a [sample] to the file with x = the inputs "
            "and t = the targets (lists in order, or in a neuron-level file tables { id = value, … })")


def add_batch_arguments(p) -> None:
    p.add_argument("--data", metavar="DATA.npz", help="an .npz with X (N, n0) and T (N, nL)")
    p.add_argument("--x", metavar="X1,X2,…", help="one sample's inputs, comma-separated")
    p.add_argument("--t", metavar="T1,T2,…", help="that sample's targets, comma-separated")


def floats(text: str, flag: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in text.split(",")], dtype=float)[None, :]
    except ValueError:
        raise DeltapropError(f"{flag} must be comma-separated numbers, got {text!r}") from None
    if not np.all(np.isfinite(values)):
        raise DeltapropError(f"{flag} contains NaN or Inf: {text!r}")
    return values


def network_and_batch(args, required: bool = True):
    """(network, X, T) from FILE and --data, or --x/--t, or the file's own [sample]; without any of them
    X and T are None, or (``required``) an error saying how to give a batch."""
    flags = args.x is not None or args.t is not None
    args.file = str(bundled.find(args.file))  # a file, or the name of a bundled example (exam_004)
    f = netfile.read(args.file, with_sample=not (args.data or flags))
    if args.data and (args.x or args.t):
        raise DeltapropError("give either --data or --x/--t, not both")
    if flags and (args.x is None or args.t is None):
        raise DeltapropError("--x and --t go together")
    if args.data:
        X, T = data.load_xt(args.data)
    elif flags:
        X, T = floats(args.x, "--x"), floats(args.t, "--t")
    elif f.sample is not None:
        X, T = f.sample
    elif required:
        raise DeltapropError(f"{f.source}: {NO_BATCH}")
    else:
        X, T = None, None
    return f.network, X, T


def dump_json(obj) -> str:
    """JSON with every float at full precision; NaN or Inf is an error, not invalid JSON."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        raise DeltapropError("the result contains NaN or Inf (overflow?); try smaller weights or inputs") from None


# --- trained models (model.npz, .safetensors): a batch in the model's own units ---------------------------------

MODEL_SUFFIXES = (".npz", ".safetensors")


def is_model_file(path) -> bool:
    """Whether FILE names a trained model rather than a network file (TOML)."""
    return str(path).endswith(MODEL_SUFFIXES)


def add_row_argument(p) -> None:
    p.add_argument("--row", type=int, metavar="N", help="with --data: only row N of the data (counted from 1)")


def model_batch(model, args) -> tuple[np.ndarray, np.ndarray]:
    """X (N, n_in), T (N, n_out) in the model's own units, from --x/--t or --data [--row N].

    ``--data`` is a data set name or file (CSV, NPZ, IDX) as for ``evaluate``; its targets are matched to the
    model's classes by name. ``--t`` is, for a classifier, a class name or index, or the K target values; for a
    regressor the target values."""
    from .. import data as data_mod

    flags = args.x is not None or args.t is not None
    if args.data and flags:
        raise DeltapropError("give either --data or --x/--t, not both")
    row = getattr(args, "row", None)
    if args.data:
        ds = data_mod.load(args.data, task=model.task)
        X, T = ds.X, data_mod.align(ds, model, args.data)
        if row is not None:
            if not 1 <= row <= X.shape[0]:
                raise DeltapropError(f"--row {row}: {args.data} has rows 1 to {X.shape[0]}")
            X, T = X[row - 1:row], T[row - 1:row]
        return X, T
    if row is not None:
        raise DeltapropError("--row picks a row of --data")
    if not flags:
        raise DeltapropError(f"{args.file}: a model holds no sample: give --x … --t …, or --data FILE --row N")
    if args.x is None or args.t is None:
        raise DeltapropError("--x and --t go together")
    X = floats(args.x, "--x")
    n_in = model.net.sizes[0]
    if X.shape[1] != n_in:
        raise DeltapropError(f"--x has {X.shape[1]} values; the model takes {n_in} inputs"
                             + (f" ({', '.join(model.feature_names)})" if model.feature_names else ""))
    return X, model_target(model, args.t)


def model_target(model, text: str) -> np.ndarray:
    """The target row (1, n_out) of --t for ``model``."""
    K = model.net.sizes[-1]
    if model.task == "classification":
        classes = model.classes or []
        if text.strip() in classes:  # a class name first: names may look like numbers
            return np.eye(K)[[classes.index(text.strip())]]
        try:
            values = floats(text, "--t")
        except DeltapropError:
            raise DeltapropError(f"--t {text}: not a class of the model ({', '.join(classes)}), nor an index "
                                 f"0 to {K - 1}, nor {K} target values") from None
        if values.shape[1] == 1 and K > 1:
            k = values[0, 0]
            if k != int(k) or not 0 <= k < K:
                raise DeltapropError(f"--t {text}: not a class of the model ({', '.join(classes)}), nor an index "
                                     f"0 to {K - 1}")
            return np.eye(K)[[int(k)]]
    else:
        values = floats(text, "--t")
    if values.shape[1] != K:
        raise DeltapropError(f"--t has {values.shape[1]} values; the model has {K} outputs")
    return values
