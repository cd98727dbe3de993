"""Pieces several subcommands share: reading a network file and the batch to run it on."""

from __future__ import annotations

import json

import numpy as np

from ..data import readers as data
from ..files import netfile
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
