"""Show-your-work derivations with SymPy: ∂L/∂(z, a, w, b) of a neuron graph, in δ form and written out.

Symbols (the JSON ``expression`` always uses these, whatever ``notation`` prints):

    z3, a3, b3            weighted input, activity and bias of neuron "3"
    x1                    the activity of input "1" (an input called "x" is just x)
    w36                   the weight from neuron "3" into neuron "6"
    t                     the target (t6, t7, … when there are several outputs)
    sigma(z3)             the logistic function; σ′(z3) is written sigma(z3)*(1 - sigma(z3))

When every id is one letter or digit the names are run together (z3, w36); otherwise every name uses
underscores (z_h1, w_h1_o1) and ids that are not plain letters and digits are renamed n1, n2, … in file
order (``Derivation.legend`` lists them). Either way a name belongs to exactly one quantity.

The derivation mirrors backpropagation, with ℓ_k the loss term of output k (L = Σ_k ℓ_k):

    δ_j = ∂L/∂z_j = g′_j(z_j) ( ∂ℓ_j/∂a_j [j an output] + Σ_k w_jk δ_k ),

each δ_k itself a formula, so the written-out answer is the δ recursion substituted into itself (seed 004 (d)).
Without a sample the derivation is purely symbolic; with one, every symbol also has its value.
SymPy's work is bounded (:class:`Budget`): paths are counted before anything is expanded, simplification is
skipped or cheapened on large expressions and stopped after a time limit, leaving the unsimplified (and
equally true) form with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import checks
from ..engine import formulas
from ..engine.formulas import sigma  # noqa: F401  (re-exported: symbolic.sigma)
from ..engine.graph import GraphNetwork
from ..errors import DeltapropError
from .budget import Budget, OutOfTime, time_limit, tidy  # noqa: F401  (re-exported)
from .functions import (CANONICAL, NOTATIONS, PRIMES, NamedPrime, activation_expr, activation_prime,  # noqa: F401
                        explicit, loss_expr, named_prime, prime_definition, sigma_prime, sigma_prime_explicit)

MAX_DERIVE_NEURONS = 200  # derivations are for exercises; SymPy would crawl on big graphs
MAX_PATHS = 2000  # terms of a written-out derivative (one per path to an output)



@dataclass
class OutputRule:
    """Output k: its loss term ℓ_k, dℓ_k/da_k, g′(z_k), and its own part of δ_k (``direct``)."""

    k: str
    ell: sp.Expr  # ℓ_k in a_k, t_k
    dl_da: sp.Expr  # ∂ℓ_k/∂a_k, in a_k, t_k
    act: sp.Expr  # a_k = g(z_k)
    prime: sp.Expr  # g′(z_k)
    direct: sp.Expr  # ∂ℓ_k/∂a_k · g′(z_k), as displayed (a_k − t_k for canonical pairs)
    direct_z: sp.Expr | None  # the same in z_k only, simplified, where that reads better (seed 004 (a))
    canonical: str = ""  # the reason δ = a − t, for canonical pairs

    def __iter__(self):  # (k, ℓ_k, a_k = g(z_k), own part of δ_k): the tuple that output_steps used to hold
        return iter((self.k, self.ell, self.act, self.direct_z if self.direct_z is not None else self.direct))


@dataclass
class Derivation:
    """∂L/∂(target) of a network, in δ form and written out; values at the sample where there is one."""

    wrt: str
    kind: str  # z, a, w or b
    expression: sp.Expr | None  # written out, σ′ kept whole (display); None when too large
    steps: list[tuple[sp.Symbol, sp.Expr, sp.Expr | None, float | None]]  # (δ_j, rule, written out, value)
    head: sp.Expr  # the target's own rule, e.g. x4*delta6 for w46, in δ symbols
    value: float | None  # from the engine (None without a sample)
    values: dict[str, float]  # every symbol's value at the sample (empty without one)
    legend: dict[str, str] = field(default_factory=dict)  # spelling -> neuron id, where renamed
    output_steps: list[OutputRule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the budget left out, and why

    def json_expression(self) -> sp.Expr | None:
        return None if self.expression is None else explicit(self.expression)

    def expression_value(self) -> float | None:
        e = self.json_expression()
        if e is None or not self.values:
            return None
        subs = {s: self.values[s.name] for s in e.free_symbols}
        f = sp.lambdify(list(subs), e, modules=formulas._MODULES)
        return complex(f(*subs.values())).real


class Deriver:
    """Symbols, values and δ formulas of one graph network, at one sample or symbolically (X None)."""

    def __init__(self, net: GraphNetwork, X=None, T=None, budget: Budget | None = None):
        if len(net.ids) > MAX_DERIVE_NEURONS:
            raise DeltapropError(f"derivations are for small networks (≤ {MAX_DERIVE_NEURONS} neurons); "
                                 f"this one has {len(net.ids)}")
        self.net, n_in = net, net.n_inputs
        self.budget = budget or Budget()
        self.legend, self.spell = _spellings(net.ids)
        compact = all(len(s) == 1 for s in self.spell.values())
        self.sep = sep = "" if compact else "_"
        S = lambda name: sp.Symbol(name, real=True)  # noqa: E731
        inputs = set(net.ids[:n_in])
        self.z = {j: S(f"z{sep}{self.spell[j]}") for j in net.ids}
        self.a = {j: S(_input_name(self.spell[j], sep) if j in inputs else f"a{sep}{self.spell[j]}")
                  for j in net.ids}
        self.b = {j: S(f"b{sep}{self.spell[j]}") for j in net.neurons}
        self.delta = {j: S(f"delta{sep}{self.spell[j]}") for j in net.ids}
        self.w = {(i, j): S(f"w{sep}{self.spell[i]}{sep}{self.spell[j]}") for i, j in net.edges}
        multi = len(net.outputs) > 1
        self.t = {k: S(f"t{sep}{self.spell[k]}" if multi else "t") for k in net.outputs}
        self.children: dict[str, list[str]] = {}
        for i, j in net.edges:
            self.children.setdefault(i, []).append(j)
        self.values: dict[str, float] = {}
        self.trace = self.grads = self.T = None
        if X is not None:
            self._at_sample(X, T)
        self._loss = loss_expr(net.loss)
        self.outputs = {k: self._output_rule(k) for k in net.outputs}

    def _at_sample(self, X, T) -> None:
        net, n_in = self.net, self.net.n_inputs
        X = np.asarray(X, float).reshape(1, -1) if np.ndim(X) == 1 else np.asarray(X, float)
        if X.shape[0] != 1:
            raise DeltapropError("a derivation is at one sample; give one --x/--t or a [sample] "
                                 "(the layered form writes the batch sums: derive a layered file or --layers)")
        self.trace = net.forward(X)
        self.grads = net.backward(self.trace, T)
        self.T = net._target(T, 1)
        v = self.values
        for j in net.ids:
            p = net.index[j]
            v[self.a[j].name] = float(self.trace.A[p, 0])
            if p >= n_in:
                v[self.z[j].name] = float(self.trace.Z[p, 0])
            v[self.delta[j].name] = float(self.grads.delta[p, 0])
        for e, (i, j) in enumerate(net.edges):
            v[self.w[i, j].name] = float(net.w[e])
        for m, j in enumerate(net.neurons):
            v[self.b[j].name] = float(net.b[m])
        for c, k in enumerate(net.outputs):
            v[self.t[k].name] = float(self.T[0, c])

    def act(self, j: str):
        return self.net.activations[self.net.index[j] - self.net.n_inputs]

    def softmax_group(self) -> list[str]:
        """The outputs that share one softmax (a vector-valued output activation), in output order."""
        return [k for k in self.net.outputs if self.act(k).name == "softmax"]

    def _softmax_rule(self, k: str) -> OutputRule:
        """Output k of a softmax group: a_k = e^{z_k}/Σ_m e^{z_m}, whose Jacobian couples the group, so k's own
        part of δ_k is Σ_m ∂ℓ_m/∂a_m · ∂a_m/∂z_k = a_k (∂ℓ_k/∂a_k − Σ_m a_m ∂ℓ_m/∂a_m)."""
        group = self.softmax_group()
        ak, zk, tk = self.a[k], self.z[k], self.t[k]
        ell = self._loss.subs({formulas.a: ak, formulas.t: tk})
        act = sp.exp(zk) / sp.Add(*[sp.exp(self.z[m]) for m in group])
        dl = {m: tidy(sp.diff(self._loss.subs({formulas.a: self.a[m], formulas.t: self.t[m]}), self.a[m]),
                      self.budget, f"∂ℓ/∂a of output {m}") for m in group}
        if self.net.loss.name == "cross_entropy":
            total = sp.Add(*[self.t[m] for m in group])
            one = not self.values or abs(sum(self.values[self.t[m].name] for m in group) - 1) < 1e-12
            direct = ak - tk if one else ak * total - tk
            why = CANONICAL[("softmax", "cross_entropy")] + ("" if one else "; these targets do not sum to 1, "
                                                               "so the sum stays")
            return OutputRule(k, ell, dl[k], act, sp.Integer(1), direct, None, why)
        direct = ak * (dl[k] - sp.Add(*[self.a[m] * dl[m] for m in group]))
        return OutputRule(k, ell, dl[k], act, sp.Integer(1), direct, None,
                          "", )

    def _output_rule(self, k: str) -> OutputRule:
        g = self.act(k)
        if g.name == "softmax":
            return self._softmax_rule(k)
        ak, zk, tk = self.a[k], self.z[k], self.t[k]
        ell = self._loss.subs({formulas.a: ak, formulas.t: tk})
        act = activation_expr(g, zk)
        prime = activation_prime(g, zk)
        reason = CANONICAL.get((g.name, self.net.loss.name), "")
        if reason:
            return OutputRule(k, ell, ak - tk if g.name == "identity" else tidy(sp.diff(ell, ak), self.budget,
                              f"∂ℓ/∂a of output {k}"), act, prime, ak - tk, None, reason)
        dl_da = tidy(sp.diff(ell, ak), self.budget, f"∂ℓ/∂a of output {k}")
        direct = dl_da * prime
        direct_z = None
        if not direct.has(sigma_prime, NamedPrime):  # in z alone, where that is shorter (2(z6² − t)/z6³)
            in_z = tidy(sp.diff(ell.subs(ak, act), zk), self.budget, f"δ of output {k}")
            if sp.count_ops(in_z) <= sp.count_ops(direct) + 1 and in_z != direct:
                direct_z = in_z
        return OutputRule(k, ell, dl_da, act, prime, direct, direct_z)

    def sample_value(self, kind: str, key) -> float | None:
        """The engine's ∂L/∂(kind key) at the sample."""
        if self.grads is None:
            return None
        net, g = self.net, self.grads
        if kind in ("z", "b"):
            return float(g.delta[net.index[key], 0])
        if kind == "w":
            return float(g.w[net.edges.index(key)])
        p = net.index[key]  # kind a: ∂L/∂a_j = [∂ℓ_j/∂a_j of an output] + Σ_k w_jk δ_k
        if p < net.n_inputs:
            return float(g.delta[p, 0])
        total = sum(net.w[e] * g.delta[net.dst[e], 0] for e in np.flatnonzero(net.src == p))
        if key in net.outputs:
            c = net.outputs.index(key)
            total += net.loss.grad(self.trace.A[net.out_pos].T, self.T)[0, c]
        return float(total)

    # ---- the δ recursion, symbolically ----
    def below(self, j: str) -> list[str]:
        """j and every neuron it feeds, directly or not, in backward order (outputs first)."""
        seen, stack = set(), [j]
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.add(k)
                stack.extend(self.children.get(k, []))
        return sorted(seen, key=lambda k: -self.net.index[k])

    def own(self, k: str) -> sp.Expr:
        """Output k's own part of δ_k, in the form the written-out answer uses."""
        r = self.outputs[k]
        return r.direct_z if r.direct_z is not None else r.direct

    def rule(self, k: str) -> sp.Expr:
        """δ_k in terms of its children's δ (and, for an output, its own loss term)."""
        kids = self.children.get(k, [])
        rec = activation_prime(self.act(k), self.z[k]) * sp.Add(*[self.w[k, c] * self.delta[c] for c in kids]) \
            if kids else sp.Integer(0)
        return self.own(k) + rec if k in self.outputs else rec

    def paths(self, order: list[str]) -> dict[str, int]:
        """Terms of each written-out δ: one per path to an output, counted before anything is built."""
        n: dict[str, int] = {}
        for k in order:
            n[k] = (k in self.outputs) + sum(n[c] for c in self.children.get(k, []))
        return n

    def written_out(self, j: str, order: list[str]) -> dict[str, sp.Expr] | None:
        """δ_k with every child δ substituted, for k below j; None when larger than the budget allows."""
        paths = self.paths(order)
        if paths.get(j, 0) > MAX_PATHS or paths.get(j, 0) * max(1, len(order)) > self.budget.expanded_ops:
            self.budget.notes.append(
                f"the written-out form has {paths.get(j, 0):,} terms (one per path to an output) and "
                f"{'is' if paths.get(j, 0) > MAX_PATHS else 'would be'} too long to print; the δ form above is "
                "the same derivative, computed neuron by neuron")
            return None
        out_sym = {k: sp.Symbol(f"D_{k}") for k in self.outputs}  # an output's own term, kept whole meanwhile
        expanded: dict[str, sp.Expr] = {}
        for k in order:
            if self.net.index[k] < self.net.n_inputs:
                continue
            kids = self.children.get(k, [])
            e = activation_prime(self.act(k), self.z[k]) * sp.Add(*[self.w[k, c] * expanded[c] for c in kids]) \
                if kids else sp.Integer(0)
            expanded[k] = out_sym[k] + e if k in self.outputs else e
        self._out_sym = out_sym
        return expanded

    def finish(self, e: sp.Expr) -> sp.Expr:
        try:
            with time_limit(self.budget):
                e = sp.factor_terms(e)
        except OutOfTime:
            self.budget.notes.append("the written-out form is shown without common factors pulled out: "
                                     f"SymPy's time limit ({self.budget.seconds:g} s) ran out")
        return e.xreplace({self._out_sym[k]: self.own(k) for k in self.outputs})

    def derive(self, wrt: str) -> Derivation:
        kind, key = self.resolve(wrt)
        j = key[1] if kind == "w" else key
        order = [k for k in self.below(j) if self.net.index[k] >= self.net.n_inputs]
        steps_rules = [(k, self.rule(k)) for k in order]
        expanded = self.written_out(j, order)
        if kind in ("z", "b"):
            head = self.delta[key]
            body = None if expanded is None else expanded[key]
        elif kind == "w":
            i, j = key
            head = self.a[i] * self.delta[j]
            body = None if expanded is None else self.a[i] * expanded[j]
        else:  # a
            kids = self.children.get(key, [])
            terms = [self.w[key, c] * self.delta[c] for c in kids]
            body_terms = None if expanded is None else [self.w[key, c] * expanded[c] for c in kids]
            if key in self.outputs:
                terms.insert(0, self.outputs[key].dl_da)
                if body_terms is not None:
                    body_terms.insert(0, self.outputs[key].dl_da)
            head = sp.Add(*terms)
            body = None if body_terms is None else sp.Add(*body_terms)
        expression = None if body is None else self.finish(body)
        steps = [(self.delta[k], rule, None, self.values.get(self.delta[k].name)) for k, rule in steps_rules]
        name = {"z": self.z, "a": self.a, "b": self.b, "w": self.w}[kind][key].name
        return Derivation(name, kind, expression, steps, head, self.sample_value(kind, key), self.values,
                          self.legend, [self.outputs[k] for k in self.net.outputs if k in order or kind == "a"],
                          list(self.budget.notes))

    def resolve(self, wrt: str) -> tuple[str, object]:
        """('z'|'a'|'b', id) or ('w', (i, j)) from a spelling such as z3, a_h1, w36, w_h1_o1, w3,6, w(3,6)."""
        text = wrt.strip().replace(" ", "").replace("{", "").replace("}", "")
        options: dict[str, set] = {}
        by_spell = {self.spell[j]: j for j in self.net.ids}
        names = list(by_spell) + [j for j in self.net.ids if j not in by_spell]
        for s in names:
            j = by_spell.get(s, s)
            for kind in ("z", "a", "x", "b", "delta"):
                if kind in ("z", "b", "delta") and self.net.index[j] < self.net.n_inputs:
                    continue
                k = {"x": "a", "delta": "z"}.get(kind, kind)
                for form in (f"{kind}{s}", f"{kind}_{s}", f"{kind}({s})"):
                    options.setdefault(form, set()).add((k, j))
            if self.net.index[j] < self.net.n_inputs:
                options.setdefault(self.a[j].name, set()).add(("a", j))
        for i, j in self.net.edges:
            for si, sj in {(self.spell[i], self.spell[j]), (i, j)}:
                for form in (f"w{si}{sj}", f"w_{si}_{sj}", f"w_{si}{sj}", f"w{si},{sj}", f"w_{si},{sj}",
                             f"w({si},{sj})", f"w{si}->{sj}", f"w_{si}->{sj}"):
                    options.setdefault(form, set()).add(("w", (i, j)))
        found = options.get(text)
        if not found:
            raise DeltapropError(f"--wrt {wrt!r} names no quantity of this network; use z3, a3, b3 or w36 "
                                 f"(or z_ID, w_I_J for longer ids); e.g. {', '.join(list(options)[:6])}")
        if len(found) > 1:
            raise DeltapropError(f"--wrt {wrt!r} is ambiguous here; write it with underscores, e.g. w_I_J")
        return next(iter(found))


def _input_name(spell: str, sep: str) -> str:
    return "x" if spell == "x" else f"x{sep}{spell}"


def _spellings(ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(legend of renamed ids, id -> spelling): plain letters and digits stay, others become n1, n2, …."""
    spell, legend, taken = {}, {}, set(ids)
    k = 0
    for i in ids:
        if re.fullmatch(r"[A-Za-z0-9]+", i):
            spell[i] = i
        else:
            k += 1
            while f"n{k}" in taken:
                k += 1
            spell[i] = f"n{k}"
            legend[f"n{k}"] = i
    return legend, spell


# --- printing in a notation -------------------------------------------------------------------------------------


def renamer(notation: str, d: Deriver) -> dict:
    """Symbol -> the symbol that notation prints."""
    if notation not in NOTATIONS:
        raise DeltapropError(f"unknown notation {notation!r}; choose from {', '.join(NOTATIONS)}")
    zl, al, yl, order, _ = NOTATIONS[notation]
    sep, n_in = d.sep, d.net.n_inputs
    m = {}
    for p, j in enumerate(d.net.ids):
        s = d.spell[j]
        m[d.z[j]] = sp.Symbol(f"{zl}{sep}{s}", real=True)
        if p >= n_in:
            m[d.a[j]] = sp.Symbol(f"{yl if j in d.net.outputs else al}{sep}{s}", real=True)
    for (i, j), w in d.w.items():
        a, b = (d.spell[i], d.spell[j]) if order == "ij" else (d.spell[j], d.spell[i])
        m[w] = sp.Symbol(f"w{sep}{a}{sep}{b}", real=True)
    return m


def show(e: sp.Expr, m: dict, fmt: str) -> str:
    e = e.xreplace(m)
    return sp.latex(e) if fmt == "latex" else sp.sstr(e)


# --- from likelihood to loss: explain/likelihood.py (re-exported here, where the API first had them) --------

from .likelihood import BATCH_RULES, LIKELIHOODS, LikelihoodDerivation, likelihood  # noqa: E402,F401


def derive(net: GraphNetwork, X, T, wrt: str) -> Derivation:
    """∂L/∂(wrt) of ``net`` at the one sample (X, T), or symbolically (X None): ``wrt`` as z3, a3, b6, w36."""
    checks.instance_arg(net, GraphNetwork, "derive: net")
    checks.text_arg(wrt, "derive: wrt")
    if X is not None:
        X = checks.batch(X, net.n_inputs, "derive: X")
    return Deriver(net, X, T).derive(wrt)
