"""``deltaprop derive``: the derivative of the loss, step by step, in text, LaTeX, Markdown or JSON.

    deltaprop derive FILE --wrt z3 [--expanded] [--notation nielsen|bishop|exam] [--format text|latex|markdown|json]
    deltaprop derive --likelihood gaussian|bernoulli|categorical|poisson|exponential [--format …]
"""

from __future__ import annotations

import math

import sympy as sp

from ..explain import symbolic as S
from ..errors import DeltapropError
from ..engine.graph import GraphNetwork
from .common import add_batch_arguments, dump_json, network_and_batch

FORMATS = ("text", "latex", "markdown", "json")


def register(sub) -> None:
    p = sub.add_parser("derive", help="derive ∂L/∂(z, a, w or b) of a neuron graph, or a loss from a likelihood")
    p.add_argument("file", nargs="?", help="neuron-level network file (TOML) with a [sample]")
    p.add_argument("--wrt", metavar="NAME", help="z3, a3, b6, w46 (ids of several characters: z_h1, w_h1_o1)")
    p.add_argument("--expanded", action="store_true", help="also write the δ recursion out in full")
    p.add_argument("--notation", choices=tuple(S.NOTATIONS), default="nielsen", help="symbols to print with")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--lr", type=float, metavar="K", help="also give the update w − K ∂L/∂w (for w and b)")
    p.add_argument("--likelihood", choices=S.LIKELIHOODS, help="derive a loss from a likelihood instead")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.likelihood:
        print(likelihood_text(S.likelihood(args.likelihood), args.format))
        return 0
    if not args.file or not args.wrt:
        raise DeltapropError("derive needs FILE and --wrt NAME (or --likelihood NAME)")
    net, X, T = network_and_batch(args)
    if not isinstance(net, GraphNetwork):
        raise DeltapropError(f"{args.file}: derive works on neuron-level files ([neurons.ID] tables)")
    d = S.Deriver(net, X, T)
    r = d.derive(args.wrt)
    print(render(d, r, args.format, args.notation, args.expanded, args.lr))
    return 0


def _num(v: float) -> sp.Symbol:
    s = f"{v:.6g}"
    return sp.Symbol(f"({s})" if v < 0 else s)


def numbers(d: S.Deriver, e: sp.Expr) -> sp.Expr:
    """e with every symbol (and σ′(z)) replaced by its value at the sample, left unevaluated for reading."""
    sp_vals = {}
    for f in e.atoms(S.sigma_prime):
        v = d.values.get(f.args[0].name)
        if v is not None:
            s = 1 / (1 + math.exp(-v))
            sp_vals[f] = _num(s * (1 - s))
    e = e.xreplace(sp_vals)
    return e.xreplace({s: _num(d.values[s.name]) for s in e.free_symbols if s.name in d.values})


def nums(d: S.Deriver, e: sp.Expr) -> str:
    return sp.latex(numbers(d, e), mul_symbol="dot")


def render(d: S.Deriver, r: S.Derivation, fmt: str, notation: str, expanded: bool, lr: float | None) -> str:
    m = S.renamer(notation, d)
    L = "L"
    target = m.get(sp.Symbol(r.wrt, real=True), sp.Symbol(r.wrt))
    if r.kind == "b":
        target = sp.Symbol(r.wrt)
    simplified = r.expression
    if fmt == "json":
        e = r.json_expression()
        out = {"wrt": r.wrt, "expression": sp.sstr(e), "latex": sp.latex(simplified.xreplace(m)),
               "value": r.value, "expression_value": r.expression_value(), "notation": notation,
               "recursive": {sp.sstr(s): {"rule": sp.sstr(S.sigma_prime_explicit(rec)), "value": v}
                             for s, rec, _, v in r.steps},
               "symbols": {s.name: d.values[s.name] for s in sorted(e.free_symbols, key=lambda s: s.name)}}
        if r.legend:
            out["legend"] = r.legend
        if lr is not None and r.kind in ("w", "b"):
            out["updated"] = d.values[r.wrt] - lr * r.value
        return dump_json(out)
    tex = fmt in ("latex", "markdown")
    show = (lambda e: S.show(e, m, "latex")) if tex else (lambda e: S.show(e, m, "text").replace("delta", "δ"))
    dname = (lambda s: sp.latex(s)) if tex else (lambda s: sp.sstr(s).replace("delta", "δ"))
    lhs = rf"\frac{{\partial {L}}}{{\partial {sp.latex(target)}}}" if tex else f"∂{L}/∂{sp.sstr(target)}"
    lines: list[str] = []
    if fmt == "markdown":
        lines += [f"### {lhs.join('$$')} at the sample".replace("$$", "$"),
                  "", f"Notation: {S.NOTATIONS[notation][4]}.", ""]
        lines += ["**Forward pass at the sample.**", "", "| neuron | z | a |", "|---|---|---|"]
        for j in d.net.ids:
            z = d.values.get(d.z[j].name)
            lines.append(f"| {j} | {'' if z is None else f'{z:.6g}'} | {d.values[d.a[j].name]:.6g} |")
        lines.append("")
        for k, ell, act, delta in r.output_steps:
            zk = d.z[k]
            lines += [f"**Output neuron {k}.** The loss and the activity:", "",
                      f"$$ {L} = {show(ell)}, \\qquad {sp.latex(m[d.a[k]])} = {show(act)} $$", "",
                      f"$$ \\delta_{{{k}}} = \\frac{{\\partial {L}}}{{\\partial {sp.latex(m[zk])}}} = "
                      f"\\frac{{\\partial {L}}}{{\\partial {sp.latex(m[d.a[k]])}}}"
                      f"\\frac{{\\partial {sp.latex(m[d.a[k]])}}}{{\\partial {sp.latex(m[zk])}}} = {show(delta)} $$", ""]
        lines += ["**Backward, neuron by neuron** (δ_j = σ′(z_j) Σ_k w_jk δ_k):", ""]
        for s, rec, _, v in r.steps:
            lines.append(f"$$ {dname(s)} = {show(rec)} = {nums(d, rec)} = {v:.6g} $$")
        lines += ["", "**The chain rule for the target.**", "",
                  f"$$ {lhs} = {show(r.head)} = {nums(d, r.head)} $$", "",
                  "**Written out in full and simplified:**", "", f"$$ {lhs} = {show(simplified)} $$", "",
                  f"**Value at the sample:** $${lhs} = {r.value:.10g}$$".replace("$$", "$")]
        if lr is not None and r.kind in ("w", "b"):
            lines += ["", f"**Update with step K = {lr:g}:** ${sp.latex(target)} \\leftarrow {sp.latex(target)} - "
                      f"K {lhs} = {d.values[r.wrt]:.6g} - {lr:g} \\cdot {r.value:.6g} = "
                      f"{d.values[r.wrt] - lr * r.value:.10g}$"]
        return "\n".join(lines)
    if fmt == "latex":
        lines.append(r"\begin{align*}")
        for s, rec, _, v in r.steps:
            lines.append(rf"{dname(s)} &= {show(rec)} = {v:.6g} \\")
        lines.append(rf"{lhs} &= {show(r.head)} \\")
        if expanded:
            lines.append(rf"&= {show(simplified)} \\")
        lines.append(rf"&= {r.value:.10g}")
        lines.append(r"\end{align*}")
        return "\n".join(lines)
    lines.append(f"{lhs} at the sample ({notation}: {S.NOTATIONS[notation][4]})")
    lines.append("δ form, backward from the outputs:")
    for s, rec, _, v in r.steps:
        lines.append(f"  {dname(s)} = {show(rec)}   = {v:.10g}")
    lines.append(f"{lhs} = {show(r.head)}")
    if expanded:
        lines.append(f"expanded and simplified:\n  {lhs} = {show(simplified)}")
    lines.append(f"value: {r.value:.12g}")
    if lr is not None and r.kind in ("w", "b"):
        lines.append(f"update: {r.wrt} − {lr:g}·{lhs} = {d.values[r.wrt] - lr * r.value:.12g}")
    return "\n".join(lines)


def likelihood_text(r: S.LikelihoodDerivation, fmt: str) -> str:
    check = "verified by SymPy" if r.verified else "NOT verified by SymPy"
    if fmt == "json":
        return dump_json({"likelihood": r.name, "title": r.title, "loss": sp.sstr(r.loss),
                          "loss_latex": sp.latex(r.loss), "activation": r.activation, "delta": sp.sstr(r.delta),
                          "delta_latex": sp.latex(r.delta), "steps": r.steps, "verified": r.verified,
                          "note": r.note, "batch_rules": S.BATCH_RULES})
    if fmt in ("markdown", "latex"):
        eq = (lambda s: f"$$ {s} $$") if fmt == "markdown" else (lambda s: rf"\[ {s} \]")
        head = f"### {r.title}" if fmt == "markdown" else rf"\subsection*{{{r.title}}}"
        out = [head, "", "Bishop's notation (seed 003): a the weighted input, y = h(a) the output, t the target.", ""]
        out += [f"{n}. {eq(s)}" if fmt == "markdown" else eq(s) for n, s in enumerate(r.steps, 1)]
        out += ["", f"Output activation: `{r.activation}`; δ = ∂E/∂a = {eq(sp.latex(r.delta))} ({check}).", ""]
        if r.note:
            out += [r.note, ""]
        out += ["For a data set of N samples (exercise l): the weights are shared by every sample, δ is per sample:", ""]
        out += [eq(s) for s in S.BATCH_RULES]
        return "\n".join(out)
    out = [r.title, "(Bishop: a weighted input, y = h(a) output, t target)"]
    out += [f"  {n}. {s}" for n, s in enumerate(r.steps, 1)]
    out += [f"loss E = {sp.sstr(r.loss)}", f"output activation: {r.activation}",
            f"δ = ∂E/∂a = {sp.sstr(r.delta)}   ({check})"]
    if r.note:
        out.append(f"note: {r.note}")
    out.append("for N samples (exercise l):")
    out += [f"  {s}" for s in S.BATCH_RULES]
    return "\n".join(out)
