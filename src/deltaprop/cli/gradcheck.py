"""``deltaprop gradcheck FILE``: backprop against finite differences, the largest error per array."""

from __future__ import annotations

from ..errors import DeltapropError
from ..explain.gradcheck import gradcheck, random_batch
from .common import add_batch_arguments, add_row_argument, dump_json, is_model_file, model_batch, network_and_batch


def register(sub) -> None:
    p = sub.add_parser("gradcheck", help="compare backprop's gradients with finite differences")
    p.add_argument("file", help="network file (TOML), or a trained model (model.npz, .safetensors)")
    add_batch_arguments(p)
    add_row_argument(p)
    p.add_argument("--method", choices=("auto", "central", "complex"), default="auto",
                   help="central differences, the complex step, or auto (complex where every function allows)")
    p.add_argument("--samples", type=int, default=4, help="random samples to check on when no batch is given")
    p.add_argument("--tol", type=float, default=1e-6, help="the largest relative error that passes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if is_model_file(args.file):  # a trained model: its network, on the batch in the network's units
        from ..training.model import load as load_model

        model = load_model(args.file)
        net, X, T = model.net, None, None
        if args.data or args.x is not None or args.t is not None:
            X, T = model_batch(model, args)
            X, T = model.inputs(X), model.targets(T)
    elif args.row is not None:
        raise DeltapropError("--row picks a row of a data set for a trained model (model.npz)")
    else:
        net, X, T = network_and_batch(args, required=False)
    if X is None:  # no batch given and no [sample] in the file
        if args.samples < 1:
            raise DeltapropError("--samples must be ≥ 1")
        from .. import limits
        from ..explain.gradcheck import work

        limits.check("gradcheck_work", work(net, args.samples), f"gradcheck --samples {args.samples}",
                     "the work of the check")  # before the random batch is drawn
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
