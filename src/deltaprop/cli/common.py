"""Pieces several subcommands share: reading a network file and the batch to run it on."""

from __future__ import annotations

import json

import numpy as np

from ..data import dataset as data
from ..files import bundled, netfile
from ..errors import DeltapropError


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


def load_network_and_batch(args):
    """(network, X, T, doc) from FILE and --data, or --x/--t, or the file's own [sample]."""
    args.file = str(bundled.find(args.file))  # a file, or the name of a bundled example (exam_004)
    doc = netfile.read_toml(args.file)
    net = netfile.from_dict(doc, source=str(args.file))
    if args.data and (args.x or args.t):
        raise DeltapropError("give either --data or --x/--t, not both")
    if args.data:
        X, T = data.load_xt(args.data)
    elif args.x is not None or args.t is not None:
        if args.x is None or args.t is None:
            raise DeltapropError("--x and --t go together")
        X, T = floats(args.x, "--x"), floats(args.t, "--t")
    else:
        X, T = None, None
    return net, X, T, doc


def dump_json(obj) -> str:
    """JSON with every float at full precision; NaN or Inf is an error, not invalid JSON."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        raise DeltapropError("the result contains NaN or Inf (overflow?); try smaller weights or inputs") from None
