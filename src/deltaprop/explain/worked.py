"""Worked solutions of neuron-graph derivations: the equations of a :class:`~.symbolic.Derivation` as text,
Markdown, LaTeX or JSON.

A worked solution is a list of sections, each of prose and *equations*; an equation is a chain of sides that
are all equal: a symbolic side (printed in the chosen notation), the same side with the sample's numbers put
in (:class:`Numbers` prints each symbol as its value and evaluates each function, keeping the order of the
symbols and putting negative numbers in parentheses), and the engine's value. ``fuzz/equations.py`` reads
every displayed equation back and checks each "=" against the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from . import symbolic as S
from .numbers import fmt_number, latex as print_latex, numeric_value, tex_text, text as print_text, with_numbers

FORMATS = ("text", "latex", "markdown", "json")
BACKWARD = {  # the rule each δ follows, in the notation's letters
    "nielsen": "Backward, neuron by neuron: δ_j = σ′_j(z_j) (Σ_k w_jk δ_k + ∂ℓ_j/∂a_j for an output).",
    "bishop": "Backward, neuron by neuron: δ_j = h′_j(a_j) (Σ_k w_kj δ_k + ∂ℓ_j/∂y_j for an output).",
    "exam": "Backward, neuron by neuron: δ_j = σ′_j(z_j) (Σ_k w_jk δ_k + ∂ℓ_j/∂x_j for an output).",
    "homework": "Backward, neuron by neuron: δ_j = g′_j(z_j) (Σ_k W_jk δ_k + ∂ℓ_j/∂a_j for an output).",
}
MAX_FORWARD_LINES = 40  # forward equations are written for networks up to this many neurons; a table beyond


@dataclass
class Worked:
    """The solution as sections of ('text', str) and ('eq', [side, …]) items; a side is ('tex', latex, text),
    ('sym', expr), ('num', expr) or ('val', float)."""

    title: str
    sections: list[tuple[str, list]] = field(default_factory=list)

    def section(self, heading: str) -> list:
        items: list = []
        self.sections.append((heading, items))
        return items


class Writer:
    """Build the worked solution of one derivation in one notation."""

    def __init__(self, d: S.Deriver, r: S.Derivation, notation: str):
        self.d, self.r, self.notation = d, r, notation
        self.m = S.renamer(notation, d)
        self.vals = {self.m.get(s, s): v for s, v in self._symbol_values().items()}

    def _symbol_values(self) -> dict:
        d, out = self.d, {}
        for table in (d.z, d.a, d.b, d.delta, d.t):
            for s in table.values():
                if s.name in d.values:
                    out[s] = d.values[s.name]
        for s in d.w.values():
            if s.name in d.values:
                out[s] = d.values[s.name]
        return out

    # --- names ---
    def sym(self, s: sp.Symbol) -> sp.Symbol:
        return self.m.get(s, s)

    def tex(self, s: sp.Symbol) -> str:
        return sp.latex(self.sym(s))

    def txt(self, s: sp.Symbol) -> str:
        return sp.sstr(self.sym(s)).replace("delta", "δ")

    def partial(self, top: str, top_txt: str, s: sp.Symbol) -> tuple:
        return ("tex", rf"\frac{{\partial {top}}}{{\partial {self.tex(s)}}}", f"∂{top_txt}/∂{self.txt(s)}")

    def ell(self, k: str) -> tuple[str, str]:
        sp_k = self.d.spell[k]
        return (rf"\ell_{{{sp_k}}}", f"ℓ_{sp_k}") if len(self.d.net.outputs) > 1 else (r"\ell", "ℓ")

    def eq(self, *sides) -> tuple:
        return ("eq", [s for s in sides if s is not None])

    def numbers(self, e: sp.Expr):
        """('num', e) when there is a sample and e has symbols to fill in and operations to show; else None."""
        if not self.d.values or not e.free_symbols or isinstance(e, (sp.Symbol, sp.Function, S.sigma_prime)):
            return None
        return ("num", e)

    def value(self, v, e: sp.Expr | None = None):
        """('val', v), unless e is that number already (σ′ = 1 = 1)."""
        return None if v is None or (e is not None and e.is_Number) else ("val", v)

    # --- the solution ---
    def build(self, expanded: bool, lr) -> Worked:
        d, r = self.d, self.r
        target = self.target_symbol()
        w = Worked(self.title())
        head = w.section("")
        head.append(("text", f"Notation: {S.NOTATIONS[self.notation][4]}."))
        if r.legend:
            head.append(("text", "Renamed ids: " + ", ".join(f"{k} = neuron {v!r}" for k, v in r.legend.items())
                         + "."))
        defs = self.definitions()
        if defs:
            head.append(("text", "where " + "; ".join(defs) + "."))
        if d.values:
            self.forward(w.section("Forward pass at the sample."))
        self.loss(w.section("The loss."))
        outs = w.section("The outputs.")
        for rule in r.output_steps:
            self.output(outs, rule)
        back = w.section(BACKWARD[self.notation])
        for s, rule, _, v in r.steps:
            back.append(self.eq(("sym", s), ("sym", rule), self.numbers(rule), self.value(v)))
        chain = w.section("The chain rule for the target.")
        chain.append(self.eq(self.partial("L", "L", target), *self.chain_sides(), ("sym", r.head),
                             self.numbers(r.head), self.value(r.value)))
        full = w.section("Written out in full.")
        if r.expression is not None:
            full.append(self.eq(self.partial("L", "L", target), ("sym", r.expression)))
        for note in r.notes:
            full.append(("text", (note[0].upper() if note[0].isascii() else note[0]) + note[1:] + "."))
        if lr is not None and r.kind in ("w", "b"):
            step = f"K = {lr:g}" if isinstance(lr, float) else sp.sstr(lr)
            self.update(w.section(f"Update with step {step}."), target, lr)
        return w

    def title(self) -> str:
        return "at the sample" if self.d.values else "symbolically (no sample: no numbers)"

    def target_symbol(self) -> sp.Symbol:
        kind, key = self.d.resolve(self.r.wrt)
        return {"z": self.d.z, "a": self.d.a, "b": self.d.b, "w": self.d.w}[kind][key]

    def definitions(self) -> list[str]:
        used = set()
        for e in [rule for _, rule, _, _ in self.r.steps] + [o.direct for o in self.r.output_steps]:
            used |= {type(f) for f in e.atoms(sp.Function)}
        out = []
        x = sp.Symbol("z", real=True)
        if S.sigma_prime in used:
            out.append(r"$\sigma'(z) = \sigma(z)\,(1 - \sigma(z))$")
        for cls in sorted((c for c in used if isinstance(c, type) and issubclass(c, S.NamedPrime)),
                          key=lambda c: c.label):
            out.append(f"${sp.latex(cls(x))} = {sp.latex(S.prime_definition(cls, x))}$")
        return out

    def forward(self, items: list) -> None:
        d, net = self.d, self.d.net
        if len(net.ids) > MAX_FORWARD_LINES:
            items.append(("table", None))
            return
        items.append(("table", None))
        parents: dict[str, list[str]] = {}
        for i, j in net.edges:
            parents.setdefault(j, []).append(i)
        for j in net.ids[net.n_inputs:]:
            z = sp.Add(*[d.w[i, j] * d.a[i] for i in parents[j]], d.b[j])
            items.append(self.eq(("sym", d.z[j]), ("sym", z), self.numbers(z), self.value(d.values[d.z[j].name])))
            g = d.outputs[j].act if j in d.outputs else S.activation_expr(d.act(j), d.z[j])
            items.append(self.eq(("sym", d.a[j]), ("sym", g), self.value(d.values[d.a[j].name])))

    def loss(self, items: list) -> None:
        d = self.d
        terms = [d.outputs[k].ell for k in d.net.outputs]
        total = sp.Add(*terms)
        names = [self.ell(k) for k in d.net.outputs]
        lhs = ("tex", " + ".join(n[0] for n in names), " + ".join(n[1] for n in names))
        cost = float(d.grads.cost) if d.grads is not None else None
        items.append(("text", "L is the sum of the loss terms of the outputs" if len(terms) > 1 else
                      "One output: L is its loss term"))
        items.append(self.eq(("tex", "L", "L"), lhs if len(terms) > 1 else None, ("sym", total),
                             self.numbers(total), self.value(cost)))

    def softmax_output(self, items: list, o: S.OutputRule) -> None:
        """A softmax output: its Jacobian couples the group, so δ_k's own part sums over every output m."""
        d, k = self.d, o.k
        group = d.softmax_group()
        ell_tex, ell_txt = self.ell(k)
        items.append(("text", f"Output {k} is one of the softmax outputs {', '.join(group)}: "
                              f"{self.txt(d.a[k])} = exp({self.txt(d.z[k])}) / Σ_m exp(z_m), and "
                              "∂a_m/∂z_k = a_m(1[m = k] − a_k) couples them."))
        items.append(self.eq(self.partial(ell_tex, ell_txt, d.a[k]), ("sym", o.dl_da), self.numbers(o.dl_da),
                             self.value(self._num(o.dl_da), o.dl_da)))
        terms_tex, terms_txt = [], []
        for m in group:
            e_tex, e_txt = self.ell(m)
            terms_tex.append(rf"\frac{{\partial {e_tex}}}{{\partial {self.tex(d.a[m])}}}"
                             rf"\frac{{\partial {self.tex(d.a[m])}}}{{\partial {self.tex(d.z[k])}}}")
            terms_txt.append(f"∂{e_txt}/∂{self.txt(d.a[m])} · ∂{self.txt(d.a[m])}/∂{self.txt(d.z[k])}")
        if o.canonical:
            items.append(("text", f"A canonical pair, so the sum is a − t: {o.canonical}."))
        items.append(self.eq(("sym", d.delta[k]), self.partial("L", "L", d.z[k]),
                             ("tex", " + ".join(terms_tex), " + ".join(terms_txt)), ("sym", o.direct),
                             self.numbers(o.direct), self.value(self._num(o.direct))))

    def output(self, items: list, o: S.OutputRule) -> None:
        d = self.d
        k = o.k
        if d.act(k).name == "softmax":
            return self.softmax_output(items, o)
        ell_tex, ell_txt = self.ell(k)
        ak, zk = d.a[k], d.z[k]
        feeds = bool(d.children.get(k))
        items.append(("text", f"Output {k}: the loss term and the activation {self.txt(ak)} = g({self.txt(zk)})."))
        dl = self.partial(ell_tex, ell_txt, ak)
        da = ("tex", rf"\frac{{\partial {self.tex(ak)}}}{{\partial {self.tex(zk)}}}",
              f"∂{self.txt(ak)}/∂{self.txt(zk)}")
        items.append(self.eq(dl, ("sym", o.dl_da), self.numbers(o.dl_da),
                             self.value(self._num(o.dl_da))))
        items.append(self.eq(da, ("sym", o.prime), self.numbers(o.prime), self.value(self._num(o.prime), o.prime)))
        prod = ("tex", dl[1] + da[1], f"{dl[2]} · {da[2]}")
        lhs = [("sym", d.delta[k]), self.partial("L", "L", zk)] if not feeds else []
        if o.canonical:
            items.append(("text", f"A canonical pair, so the product is a − t: {o.canonical}."))
        items.append(self.eq(*lhs, prod, ("sym", o.direct), ("sym", o.direct_z) if o.direct_z is not None else None,
                             self.numbers(o.direct), self.value(self._num(o.direct))))
        if feeds:
            items.append(("text", f"Output {k} also feeds {', '.join(d.children[k])}: its δ adds those terms "
                                  "(below); the product above is only its own loss term's part."))

    def _num(self, e: sp.Expr):
        if not self.d.values:
            return None
        return S_value(e, self.d)

    def chain_sides(self) -> list:
        d, r = self.d, self.r
        kind, key = d.resolve(r.wrt)
        if kind == "w":
            i, j = key
            return [("tex", rf"\frac{{\partial L}}{{\partial {self.tex(d.z[j])}}}"
                            rf"\frac{{\partial {self.tex(d.z[j])}}}{{\partial {self.tex(d.w[key])}}}",
                     f"∂L/∂{self.txt(d.z[j])} · ∂{self.txt(d.z[j])}/∂{self.txt(d.w[key])}")]
        if kind == "b":
            return [("tex", rf"\frac{{\partial L}}{{\partial {self.tex(d.z[key])}}}"
                            rf"\frac{{\partial {self.tex(d.z[key])}}}{{\partial {self.tex(d.b[key])}}}",
                     f"∂L/∂{self.txt(d.z[key])} · ∂{self.txt(d.z[key])}/∂{self.txt(d.b[key])}")]
        return []

    def update(self, items: list, target: sp.Symbol, lr) -> None:
        r = self.r
        k = lr if isinstance(lr, sp.Symbol) else sp.Float(lr)
        new_tex = rf"{self.tex(target)} - {sp.latex(k)} \frac{{\partial L}}{{\partial {self.tex(target)}}}"
        new_txt = f"{self.txt(target)} − {sp.sstr(k)}·∂L/∂{self.txt(target)}"
        sides = [("tex", new_tex, new_txt), ("sym", target - k * r.head)]
        if r.expression is not None:
            sides.append(("sym", target - k * r.expression))
        if self.d.values:
            old = self.d.values[target.name]
            if isinstance(lr, sp.Symbol):
                sides.append(("sym", sp.Float(old, 9) - sp.Float(r.value, 10) * k))
            else:
                sides.append(("num", target - k * r.head))
                sides.append(("val", old - float(lr) * r.value))
        items.append(("update", target, sides))


def S_value(e: sp.Expr, d: S.Deriver) -> float:
    vals = {}
    for table in (d.z, d.a, d.b, d.delta, d.t):
        for s in table.values():
            if s.name in d.values:
                vals[s] = d.values[s.name]
    for s in d.w.values():
        vals[s] = d.values.get(s.name, 0.0)
    return numeric_value(e, vals)


# --- rendering ---------------------------------------------------------------------------------------------------


def _side(w: Writer, side, tex: bool) -> str:
    kind = side[0]
    if kind == "tex":
        return side[1] if tex else side[2]
    if kind == "sym":
        e = side[1].xreplace(w.m)
        return print_latex(e) if tex else print_text(e).replace("delta", "δ")
    if kind == "num":
        return with_numbers(side[1].xreplace(w.m), w.vals, tex)
    return fmt_number(side[1], 10)


def _chain(w: Writer, item, tex: bool) -> str:
    if item[0] == "update":
        _, target, sides = item
        arrow = r" \leftarrow " if tex else " ← "
        name = w.tex(target) if tex else w.txt(target)
        return name + arrow + " = ".join(_side(w, s, tex) for s in sides)
    return " = ".join(_side(w, s, tex) for s in item[1])


def table(w: Writer) -> list[str]:
    d = w.d
    zl, al, yl, _, _ = S.NOTATIONS[w.notation]
    label = f"{al}, {yl} for an output, x for an input" if al != yl else f"{al}, x for an input"
    out = [f"| neuron | weighted input {zl} | activity ({label}) |", "|---|---|---|"]
    for j in d.net.ids:
        z = d.values.get(d.z[j].name)
        out.append(f"| {j} | {'' if z is None else fmt_number(z)} | {fmt_number(d.values[d.a[j].name])} |")
    return out


def markdown(w: Writer, worked: Worked) -> str:
    r = w.r
    target = w.target_symbol()
    lines = [f"### $\\frac{{\\partial L}}{{\\partial {w.tex(target)}}}$ {worked.title}", ""]
    for heading, items in worked.sections:
        if heading:
            lines += [f"**{heading}**", ""]
        for item in items:
            if item[0] == "text":
                lines += [item[1], ""]
            elif item[0] == "table":
                lines += table(w) + [""]
            else:
                lines += [f"$$ {_chain(w, item, True)} $$", ""]
    if r.value is not None:
        lines.append(f"**Value at the sample:** ${w.partial('L', 'L', target)[1]} = {fmt_number(r.value, 10)}$")
    return "\n".join(lines).rstrip()


def latex(w: Writer, worked: Worked) -> str:
    out = []
    for heading, items in worked.sections:
        if heading:
            out.append(rf"\paragraph{{{tex_text(heading)}}}")
        eqs = []
        for item in items:
            if item[0] == "text":
                if eqs:
                    out += [r"\begin{align*}", " \\\\\n".join(eqs), r"\end{align*}"]
                    eqs = []
                out.append(tex_text(item[1]))
            elif item[0] == "table":
                continue
            else:
                chain = _chain(w, item, True)
                lhs, _, rest = chain.partition(" = ") if item[0] == "eq" else chain.partition(r" \leftarrow ")
                eqs.append(f"{lhs} &= {rest}" if item[0] == "eq" else f"{lhs} &\\leftarrow {rest}")
        if eqs:
            out += [r"\begin{align*}", " \\\\\n".join(eqs), r"\end{align*}"]
    return "\n".join(out).rstrip()


def text(w: Writer, worked: Worked, expanded: bool) -> str:
    """The short form for a terminal: the δ form, the target's rule, and (with --expanded) the full formula."""
    d, r = w.d, w.r
    target = w.target_symbol()
    lhs = f"∂L/∂{w.txt(target)}"
    where = "at the sample" if d.values else "symbolically (no sample)"
    lines = [f"{lhs} {where} ({w.notation}: {S.NOTATIONS[w.notation][4]})"]
    if r.legend:
        lines.append("renamed ids: " + ", ".join(f"{k} = {v!r}" for k, v in r.legend.items()))
    for o in r.output_steps:
        own = _side(w, ("sym", o.direct), False)
        if d.act(o.k).name == "softmax":
            why = f"   (canonical pair: {o.canonical})" if o.canonical else ""
            lines.append(f"output {o.k} (softmax): Σ_m ∂ℓ_m/∂a_m · ∂a_m/∂{w.txt(d.z[o.k])} = {own}{why}")
            continue
        z = f" = {_side(w, ('sym', o.direct_z), False)}" if o.direct_z is not None else ""
        why = f"   (canonical pair: {o.canonical})" if o.canonical else ""
        lines.append(f"output {o.k}: ∂ℓ/∂{w.txt(d.a[o.k])} · g′({w.txt(d.z[o.k])}) = {own}{z}{why}")
    lines.append("δ form, backward from the outputs:")
    for s, rule, _, v in r.steps:
        val = "" if v is None else f"   = {v:.10g}"
        lines.append(f"  {w.txt(s)} = {_side(w, ('sym', rule), False)}{val}")
    lines.append(f"{lhs} = {_side(w, ('sym', r.head), False)}")
    if expanded:
        if r.expression is not None:
            lines.append(f"written out and simplified:\n  {lhs} = {_side(w, ('sym', r.expression), False)}")
    for note in r.notes:
        lines.append(f"note: {note}")
    if r.value is not None:
        lines.append(f"value: {r.value:.12g}")
    for heading, items in worked.sections:
        for item in items:
            if item[0] == "update":
                lines.append("update: " + _chain(w, item, False))
    return "\n".join(lines)
