"""``deltaprop derive``: derivations as worked solutions, in text, LaTeX, Markdown or JSON.

    deltaprop derive GRAPH.toml --wrt z3 [--expanded] [--notation …] [--format …] [--lr K|k]   neuron graphs
    deltaprop derive LAYERED.toml [--part P] [--notation nielsen|bishop|homework] [--data D.npz]  layered files
    deltaprop derive --layers 2-3-1 --activation sigmoid --loss quadratic [--part P]              no file at all
    deltaprop derive --likelihood gaussian|bernoulli|categorical|poisson|exponential              a loss from p(t|y)

A neuron graph is derived at its [sample] (or --x/--t/--data), or in symbols only with --symbolic. ``--lr`` takes a
number (the updated value) or a symbol such as k or eta (the update written w ← w − k·∂L/∂w).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import DeltapropError
from .common import NO_BATCH, add_batch_arguments, dump_json, network_and_batch

if TYPE_CHECKING:  # SymPy loads only when a derivation runs, so the other commands start fast
    from ..explain import symbolic as S

FORMATS = ("text", "latex", "markdown", "json")
NOTATION_CHOICES = ("nielsen", "bishop", "exam", "homework")
LIKELIHOODS = ("gaussian", "bernoulli", "categorical", "poisson", "exponential")  # explain/likelihood.py
PARTS = ("all", "formula", "recursion", "linear", "delta", "gradients", "backprop", "batch", "sgd")  # explain/layered_derivation.py


def register(sub) -> None:
    p = sub.add_parser("derive", help="derivations as worked solutions: a neuron graph's ∂L/∂(z, a, w, b), a layered "
                                      "network's backprop equations, or a loss from a likelihood")
    p.add_argument("file", nargs="?", help="network file (TOML): neuron-level ([neurons.ID]) or layered ([[layer]])")
    p.add_argument("--wrt", metavar="NAME", help="neuron graphs: z3, a3, b6, w46 (longer ids: z_h1, w_h1_o1)")
    p.add_argument("--expanded", action="store_true", help="text/LaTeX: also write the δ recursion out in full")
    p.add_argument("--notation", choices=NOTATION_CHOICES, default="nielsen", help="symbols to print with")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--symbolic", action="store_true",
                   help="neuron graphs: an answer in symbols only, no numbers (no sample needed)")
    p.add_argument("--lr", metavar="K", help="also give the update w ← w − K ∂L/∂w: a number, or a symbol (k, eta)")
    p.add_argument("--likelihood", choices=LIKELIHOODS, help="derive a loss from a likelihood instead")
    p.add_argument("--layers", metavar="2-3-1", help="a layered network given by its sizes, without a file")
    p.add_argument("--activation", default="sigmoid", help="with --layers: the activation of every layer")
    p.add_argument("--output", metavar="ACT", help="with --layers: the output layer's activation (default: --activation)")
    p.add_argument("--loss", default="quadratic", help="with --layers: the loss (a name or a formula in a and t)")
    p.add_argument("--reduction", choices=("mean", "sum"), default="mean", help="with --layers: batch cost")
    p.add_argument("--part", choices=PARTS, default="all", help="layered networks: which part of the solution")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def learning_rate(text: str | None):
    """None, a float, or a SymPy symbol for a step written as a letter (k, K, eta, η)."""
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is not None:
        if v != v or v in (float("inf"), float("-inf")):
            raise DeltapropError(f"--lr must be a finite number or a symbol, got {text!r}")
        return v
    name = {"η": "eta", "α": "alpha"}.get(text.strip(), text.strip())
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,11}", name):
        raise DeltapropError(f"--lr must be a number or a symbol such as k or eta, got {text!r}")
    import sympy as sp

    return sp.Symbol(name, positive=True)


def run(args) -> int:
    from ..explain import likelihood as L
    from ..explain import symbolic as S

    if args.likelihood:
        print(likelihood_text(L.likelihood(args.likelihood), args.format))
        return 0
    lr = learning_rate(args.lr)
    if args.layers:
        if args.file:
            raise DeltapropError("give either FILE or --layers, not both")
        return run_layered(args, None)
    if not args.file:
        raise DeltapropError("derive needs FILE (a network file), --layers SIZES or --likelihood NAME")
    from ..files import bundled

    args.file = str(bundled.find(args.file))  # a file, or the name of a bundled example (exam_004)
    doc = _read(args.file)
    if "neurons" not in doc:
        return run_layered(args, doc)
    from ..engine.graph import GraphNetwork

    if not args.wrt:
        raise DeltapropError("a neuron graph needs --wrt NAME: z3, a3, b6 or w46 (z_ID, w_I_J for longer ids)")
    net, X, T = network_and_batch(args, required=False)
    if not isinstance(net, GraphNetwork):
        raise DeltapropError(f"{args.file}: not a neuron-level file")
    if args.symbolic:
        X = T = None
    elif X is None:
        raise DeltapropError(f"{args.file}: {NO_BATCH}; or --symbolic for an answer in symbols only")
    d = S.Deriver(net, X, T)
    r = d.derive(args.wrt)
    print(render(d, r, args.format, args.notation, args.expanded, lr))
    return 0


def _read(path: str) -> dict:
    from ..explain import symbolic as S
    from ..files import netfile

    doc = netfile.read_toml(path)
    neurons = doc.get("neurons")
    if isinstance(neurons, dict) and len(neurons) > S.MAX_DERIVE_NEURONS:  # before any formula is compiled
        raise DeltapropError(f"{path}: derivations are for small networks (≤ {S.MAX_DERIVE_NEURONS} neurons); "
                             f"this one has {len(neurons)}")
    return doc


def run_layered(args, doc) -> int:
    from ..data import readers as data
    from ..engine.layered import Network
    from ..explain import layered_derivation as LD
    from ..files import netfile

    if args.wrt:  # one derivative at a sample is a neuron graph's question; a layered file answers for every layer
        if doc is not None and "sample" not in doc and args.data is None and args.x is None:
            raise DeltapropError(f"{args.file}: {NO_BATCH}")
        raise DeltapropError("--wrt is for neuron graphs; a layered derivation gives every layer's equations "
                             "(choose them with --part)")
    notation = "homework" if args.notation == "exam" else args.notation
    X = T = None
    if doc is None:
        sizes = LD.parse_layers(args.layers)
        net = Network(sizes, args.activation, args.loss, output=args.output, reduction=args.reduction)
        symbolic = args.data is None and args.x is None
    else:
        net = netfile.from_dict(doc, source=str(args.file))
        symbolic = not any("weights" in layer for layer in doc.get("layer", [])) and args.data is None
        s = netfile.sample(doc, net, str(args.file))
        if s is not None:
            X, T = s
    if args.data:
        X, T = data.load_xt(args.data)
    elif args.x is not None or args.t is not None:
        from .common import floats

        if args.x is None or args.t is None:
            raise DeltapropError("--x and --t go together")
        X, T = floats(args.x, "--x"), floats(args.t, "--t")
    items = LD.LayeredDeriver(net, X, T, notation, symbolic_only=symbolic and X is None).build(args.part)
    if args.format == "json":
        print(dump_json({"notation": notation, "part": args.part, "sizes": net.sizes,
                         "items": [list(i) for i in items]}))
    else:
        print(LD.render(items, args.format), end="")
    return 0


def render(d: S.Deriver, r: S.Derivation, fmt: str, notation: str, expanded: bool, lr) -> str:
    from ..explain import worked as Wk

    w = Wk.Writer(d, r, notation)
    worked = w.build(expanded, lr)
    if fmt == "json":
        return json_out(d, r, w, notation, lr)
    if fmt == "markdown":
        return Wk.markdown(w, worked)
    if fmt == "latex":
        return Wk.latex(w, worked)
    return Wk.text(w, worked, expanded)


def json_out(d: S.Deriver, r: S.Derivation, w, notation: str, lr) -> str:
    import sympy as sp

    from ..explain import symbolic as S

    e = r.json_expression()
    out = {"wrt": r.wrt, "expression": None if e is None else sp.sstr(e),
           "latex": None if r.expression is None else sp.latex(r.expression.xreplace(w.m)),
           "delta_form": sp.sstr(S.explicit(r.head)),
           "value": r.value, "expression_value": r.expression_value(), "notation": notation,
           "recursive": {sp.sstr(s): {"rule": sp.sstr(S.explicit(rec)), "value": v} for s, rec, _, v in r.steps},
           "symbols": {s.name: d.values[s.name] for s in sorted((e if e is not None else r.head).free_symbols,
                                                                 key=lambda s: s.name) if s.name in d.values},
           "notes": r.notes}
    if r.legend:
        out["legend"] = r.legend
    if lr is not None and r.kind in ("w", "b"):
        target = sp.Symbol(r.wrt, real=True)
        if isinstance(lr, sp.Symbol):
            out["update"] = sp.sstr(target - lr * (r.json_expression() if e is not None else S.explicit(r.head)))
            if r.value is not None:
                out["updated"] = sp.sstr(sp.Float(d.values[r.wrt]) - sp.Float(r.value) * lr)
        elif r.value is not None:
            out["updated"] = d.values[r.wrt] - lr * r.value
    return dump_json(out)


def likelihood_text(r, fmt: str) -> str:
    """The worked derivation of a likelihood (explain/likelihood.py) in a format."""
    import sympy as sp

    from ..explain import likelihood as L

    check = "verified by SymPy" if r.verified else "NOT verified by SymPy"
    if fmt == "json":
        return dump_json({"likelihood": r.name, "title": r.title, "loss": sp.sstr(r.loss),
                          "loss_latex": sp.latex(r.loss), "activation": r.activation, "delta": sp.sstr(r.delta),
                          "delta_latex": sp.latex(r.delta), "steps": r.steps, "text_steps": r.text_steps,
                          "verified": r.verified,
                          "note": r.note, "batch_rules": L.BATCH_RULES})
    if fmt in ("markdown", "latex"):
        from ..explain.numbers import tex_text

        tex = fmt == "latex"
        eq = (lambda s: rf"\[ {s} \]") if tex else (lambda s: f"$$ {s} $$")
        prose = tex_text if tex else (lambda s: s)
        head = rf"\subsection*{{{tex_text(r.title)}}}" if tex else f"### {r.title}"
        out = [head, "", prose("Bishop's notation (seed 003): a the weighted input, y = h(a) the output, t the target."),
               ""]
        out += [eq(s) if tex else f"{n}. {eq(s)}" for n, s in enumerate(r.steps, 1)]
        act = f"\\texttt{{{tex_text(r.activation)}}}" if tex else f"`{r.activation}`"
        out += ["", f"{prose('Output activation: ')}{act}{prose('; δ = ∂E/∂a')} = {eq(sp.latex(r.delta))} "
                    f"({check}).", ""]
        if r.note:
            out += [prose(r.note), ""]
        out += [prose("For a data set of N samples (exercise l): the weights are shared by every sample, δ is per "
                      "sample:"), ""]
        out += [eq(s) for s in L.BATCH_RULES]
        return "\n".join(out)
    out = [r.title, "(Bishop: a weighted input, y = h(a) output, t target)"]
    out += [f"  {n}. {s}" for n, s in enumerate(r.text_steps, 1)]
    out += [f"loss E = {sp.sstr(r.loss).replace('sigma2', 'σ²')}", f"output activation: {r.activation}",
            f"δ = ∂E/∂a = {sp.sstr(r.delta).replace('sigma2', 'σ²')}   ({check})"]
    if r.note:
        out.append(f"note: {r.note}")
    out.append("for N samples (exercise l): the weights are shared by every sample, δ is per sample:")
    out += [f"  {s}" for s in L.BATCH_RULES_TEXT]
    return "\n".join(out)
