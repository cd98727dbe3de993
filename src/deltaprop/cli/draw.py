"""``deltaprop draw FILE -o net.svg|png|pdf|gv``: the network drawn by Graphviz, with values on request.

Without Graphviz's ``dot`` an SVG is still drawn (plainer); PNG and PDF need it, and say so in one line.
"""

from __future__ import annotations

import sys

from ..view import drawing
from .common import add_batch_arguments, network_and_batch


def register(sub) -> None:
    p = sub.add_parser("draw", help="draw a network (Graphviz): neurons, weights and, on request, z, a, δ, ∂C/∂w")
    p.add_argument("file", help="network file (TOML) or the name of a bundled example")
    p.add_argument("-o", "--out", metavar="FILE", default="net.svg",
                   help="output file; its suffix picks the format: svg, png, pdf, gv (DOT source) (default net.svg)")
    p.add_argument("--values", action="store_true", help="run forward on the sample: z and a on every neuron")
    p.add_argument("--grads", action="store_true", help="also run backward: δ on every neuron, ∂C/∂w on every edge")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    net, X, T = network_and_batch(args, required=args.values or args.grads)
    if not (args.values or args.grads):
        X = T = None
    d = drawing.draw(net, X, T if args.grads else None, values=True, grads=args.grads)
    fmt = args.out.rsplit(".", 1)[-1].lower() if "." in args.out else "svg"
    if fmt == "svg" and not drawing.dot_available():
        print(f"deltaprop: note: {drawing.NO_DOT}; drawn without it, plainer", file=sys.stderr)
    path = d.save(args.out)
    print(f"wrote {path}")
    return 0



