"""``deltaprop gradcheck FILE``: backprop against finite differences, the largest error per array."""

from __future__ import annotations

from ..errors import DeltapropError
from ..explain.gradcheck import gradcheck, random_batch
from .common import add_batch_arguments, dump_json, network_and_batch


def register(sub) -> None:
    p = sub.add_parser("gradcheck", help="compare backprop's gradients with finite differences")
    p.add_argument("file", help="network file (TOML)")
    add_batch_arguments(p)
    p.add_argument("--method", choices=("auto", "central", "complex"), default="auto",
                   help="central differences, the complex step, or auto (complex where every function allows)")
    p.add_argument("--samples", type=int, default=4, help="random samples to check on when no batch is given")
    p.add_argument("--tol", type=float, default=1e-6, help="the largest relative error that passes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    net, X, T = network_and_batch(args, required=False)
    if X is None:  # no batch given and no [sample] in the file
        if args.samples < 1:
            raise DeltapropError("--samples must be ≥ 1")
        X, T = random_batch(net, args.samples)
    report = gradcheck(net, X, T, method=args.method)
    ok = report.ok(args.tol)
    if args.json:
        print(dump_json({**report.to_dict(), "tol": args.tol, "ok": ok}))
    else:
        print(f"gradient check by {report.method} differences (float64), relative error per array:")
        for name, err in report.errors.items():
            print(f"  {name:>12}  {err:.3e}  {'ok' if err <= args.tol else 'FAIL'}")
        print(f"largest: {report.max_error:.3e}  ({'pass' if ok else 'fail'} at tol {args.tol:g})")
    return 0 if ok else 1
