"""Show-your-work derivations with SymPy: ∂L/∂(z, a, w, b) of a neuron graph, in δ form and written out.

Symbols (the JSON ``expression`` always uses these, whatever ``notation`` prints):

    z3, a3, b3            weighted input, activity and bias of neuron "3" (inputs: a1 is x1)
    w36                   the weight from neuron "3" into neuron "6"
    t                     the target (t6, t7, … when there are several outputs)
    sigma(z3)             the logistic function; σ′(z3) is written sigma(z3)*(1 - sigma(z3))

When every id is one letter or digit the names are run together (z3, w36); otherwise every name uses
underscores (z_h1, w_h1_o1) and ids that are not plain letters and digits are renamed n1, n2, … in file
order (``Derivation.legend`` lists them). Either way a name belongs to exactly one quantity.

The derivation mirrors backpropagation: δ_j = σ′(z_j) (∂L/∂a_j [outputs] + Σ_k w_jk δ_k), each δ_k itself
a formula, so the expanded answer is the δ recursion substituted into itself (seed 004, part d).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..engine import formulas
from .. import checks
from ..errors import DeltapropError
from ..engine.formulas import sigma
from ..engine.graph import GraphNetwork

MAX_DERIVE_NEURONS = 200  # derivations are for exercises; SymPy would crawl on big graphs
MAX_PATHS = 2000  # terms of an expanded derivative (one per path to an output)


class sigma_prime(sp.Function):
    """σ′(x) = σ(x)(1 − σ(x)), kept whole so that derivations read like the notes."""

    def _latex(self, printer, exp=None):
        return rf"\sigma'\left({printer._print(self.args[0])}\right)"

    def _sympystr(self, printer):
        return f"σ′({printer._print(self.args[0])})"


def sigma_prime_explicit(expr: sp.Expr) -> sp.Expr:
    return expr.replace(sigma_prime, lambda x: sigma(x) * (1 - sigma(x)))


# registry activations as expressions in z (formula activations are parsed from their text)
_REGISTRY = {
    "identity": lambda x: x, "sigmoid": sigma, "tanh": sp.tanh, "relu": lambda x: sp.Max(x, 0),
    "leaky_relu": lambda x: sp.Max(x, sp.Rational(1, 100) * x), "softplus": lambda x: sp.log(1 + sp.exp(x)),
    "square": lambda x: x**2,
}


def activation_expr(g, x: sp.Symbol) -> sp.Expr:
    if g.name in _REGISTRY:
        return _REGISTRY[g.name](x)
    if g.formula is None:
        raise DeltapropError(f"activation {g.name!r} has no formula to derive with")
    return formulas.activation_expr(g.formula).subs(formulas.z, x)


def activation_prime(g, x: sp.Symbol) -> sp.Expr:
    """σ′(x) for display: σ′ kept as one symbol for the logistic function, the derivative written out otherwise."""
    if g.name == "sigmoid":
        return sigma_prime(x)
    return sp.diff(activation_expr(g, x), x)


def loss_expr(loss) -> sp.Expr:
    if loss.formula is None:
        raise DeltapropError(f"loss {loss.name!r} has no formula to derive with")
    return formulas.parse(loss.formula, {"a": formulas.a, "t": formulas.t, "pi": sp.pi}, what="loss formula")


# --- notations ------------------------------------------------------------------------------------------------

NOTATIONS = {
    # weighted input, activity, output activity, weight index order, description
    "nielsen": ("z", "a", "a", "ij", "z weighted input, a = σ(z) activity, w_ij from i into j, δ = ∂L/∂z"),
    "bishop": ("a", "z", "y", "ji", "a weighted input, z = h(a) activity, y output, w_ji from i into j (Bishop, seed 003)"),
    "exam": ("z", "x", "x", "ij", "z input current, x activity, w_ij from i into j (seed 004)"),
}


@dataclass
class Derivation:
    """∂L/∂(target) of a network at its one sample: δ-form steps, the expanded formula, values."""

    wrt: str
    kind: str  # z, a, w or b
    expression: sp.Expr  # expanded, σ′ kept whole (display)
    steps: list[tuple[sp.Symbol, sp.Expr, sp.Expr, float]]  # (δ_j, recursive rhs, expanded rhs, value)
    head: sp.Expr  # the target's own rule, e.g. a4*delta6 for w46, in δ symbols
    value: float  # from the engine
    values: dict[str, float]  # every symbol's value at the sample
    legend: dict[str, str] = field(default_factory=dict)  # spelling -> neuron id, where renamed
    output_steps: list = field(default_factory=list)  # (k, loss in a, a = σ(z), δ_k simplified)

    def json_expression(self) -> sp.Expr:
        return sigma_prime_explicit(self.expression)

    def expression_value(self) -> float:
        e = self.json_expression()
        subs = {s: self.values[s.name] for s in e.free_symbols}
        f = sp.lambdify(list(subs), e, modules=formulas._MODULES)
        return complex(f(*subs.values())).real


class Deriver:
    """Symbols, values and δ formulas of one graph network at one sample."""

    def __init__(self, net: GraphNetwork, X, T):
        if len(net.ids) > MAX_DERIVE_NEURONS:
            raise DeltapropError(f"derivations are for small networks (≤ {MAX_DERIVE_NEURONS} neurons); "
                                 f"this one has {len(net.ids)}")
        X = np.asarray(X, float).reshape(1, -1) if np.ndim(X) == 1 else np.asarray(X, float)
        if X.shape[0] != 1:
            raise DeltapropError("a derivation is at one sample; give one --x/--t or a [sample]")
        self.net, n_in = net, net.n_inputs
        self.trace = net.forward(X)
        self.grads = net.backward(self.trace, T)
        self.T = net._target(T, 1)
        self.legend, self.spell = _spellings(net.ids)
        compact = all(len(s) == 1 for s in self.spell.values())
        sep = "" if compact else "_"
        S = lambda name: sp.Symbol(name, real=True)  # noqa: E731
        self.z = {j: S(f"z{sep}{self.spell[j]}") for j in net.ids}
        self.a = {j: S(f"a{sep}{self.spell[j]}") for j in net.ids}
        self.b = {j: S(f"b{sep}{self.spell[j]}") for j in net.neurons}
        self.delta = {j: S(f"delta{sep}{self.spell[j]}") for j in net.ids}
        self.w = {(i, j): S(f"w{sep}{self.spell[i]}{sep}{self.spell[j]}") for i, j in net.edges}
        multi = len(net.outputs) > 1
        self.t = {k: S(f"t{sep}{self.spell[k]}" if multi else "t") for k in net.outputs}
        self.children: dict[str, list[str]] = {}
        for i, j in net.edges:
            self.children.setdefault(i, []).append(j)
        # values at the sample
        v = {}
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
        self.values = v
        self._loss = loss_expr(net.loss)
        self._out_delta: dict[str, sp.Expr] = {}
        self.output_steps = []
        for k in net.outputs:
            g = self.act(k)
            ell = self._loss.subs({formulas.a: self.a[k], formulas.t: self.t[k]})
            in_z = ell.subs(self.a[k], activation_expr(g, self.z[k]))
            d = _simplify(sp.diff(in_z, self.z[k]))
            self._out_delta[k] = d
            self.output_steps.append((k, ell, activation_expr(g, self.z[k]), d))

    def act(self, j: str):
        return self.net.activations[self.net.index[j] - self.net.n_inputs]

    def sample_value(self, kind: str, key) -> float:
        """The engine's ∂L/∂(kind key) at the sample."""
        net, g = self.net, self.grads
        if kind in ("z", "b"):
            return float(g.delta[net.index[key], 0])
        if kind == "w":
            return float(g.w[net.edges.index(key)])
        p = net.index[key]  # kind a: ∂L/∂a_j = [∂L/∂a_j of an output] + Σ_k w_jk δ_k
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

    def delta_rules(self, j: str):
        """[(δ_k, recursive rhs, expanded rhs)] for j and the neurons below it, outputs first."""
        order = self.below(j)
        out_sym = {k: sp.Symbol(f"D_{k}") for k in self._out_delta}  # an output's own ∂ℓ/∂z, kept whole
        expanded: dict[str, sp.Expr] = {}
        rules = []
        for k in order:
            if self.net.index[k] < self.net.n_inputs:
                continue
            sp_k = activation_prime(self.act(k), self.z[k])
            kids = self.children.get(k, [])
            rec = sp_k * sp.Add(*[self.w[k, c] * self.delta[c] for c in kids]) if kids else sp.Integer(0)
            exp = sp_k * sp.Add(*[self.w[k, c] * expanded[c] for c in kids]) if kids else sp.Integer(0)
            if k in out_sym:
                rec = self._out_delta[k] + rec
                exp = out_sym[k] + exp
            expanded[k] = exp
            rules.append((k, rec, exp))
        if _count_terms(expanded.get(j, sp.Integer(0))) > MAX_PATHS:
            raise DeltapropError(f"the expanded derivative has more than {MAX_PATHS} terms; drop --expanded")
        finish = lambda e: sp.factor_terms(e).subs({out_sym[k]: self._out_delta[k] for k in out_sym})  # noqa: E731
        return [(k, rec, finish(exp)) for k, rec, exp in rules], finish, out_sym, expanded

    def derive(self, wrt: str) -> Derivation:
        kind, key = self.resolve(wrt)
        j = key[1] if kind == "w" else key
        rules, finish, out_sym, expanded = self.delta_rules(j)
        steps = [(self.delta[k], rec, exp, self.values[self.delta[k].name]) for k, rec, exp in rules]
        if kind in ("z", "b"):
            head = self.delta[key]
            expression = finish(expanded[key])
        elif kind == "w":
            i, j = key
            head = self.a[i] * self.delta[j]
            expression = finish(self.a[i] * expanded[j])
        else:  # a
            terms = [self.w[key, c] * self.delta[c] for c in self.children.get(key, [])]
            exp_terms = [self.w[key, c] * expanded[c] for c in self.children.get(key, [])]
            if key in self._out_delta:
                g = self.act(key)
                dl_da = _simplify(sp.diff(self._loss.subs({formulas.a: self.a[key], formulas.t: self.t[key]}), self.a[key]))
                terms.insert(0, dl_da)
                exp_terms.insert(0, dl_da)
            head = sp.Add(*terms)
            expression = finish(sp.Add(*exp_terms))
            if key in self._out_delta:  # ∂ℓ/∂a is in a; the expanded form is in z, like the rest
                expression = expression.subs(self.a[key], activation_expr(g, self.z[key]))
        name = {"z": self.z, "a": self.a, "b": self.b, "w": self.w}[kind][key].name
        return Derivation(name, kind, expression, steps, head, self.sample_value(kind, key), self.values,
                          self.legend, self.output_steps)

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


def _simplify(e: sp.Expr) -> sp.Expr:
    """A short form of an output δ: SymPy's simplify, then factor where that is no longer."""
    s = sp.simplify(e)
    f = sp.factor(s)
    return f if sp.count_ops(f) <= sp.count_ops(s) + 2 else s  # 2(z² − t)/z³ reads better than 2/z − 2t/z³


def _count_terms(e: sp.Expr) -> int:
    return len(sp.Add.make_args(sp.expand(e))) if sp.count_ops(e) < 10_000 else MAX_PATHS + 1


# --- printing in a notation -------------------------------------------------------------------------------------


def renamer(notation: str, d: Deriver) -> dict:
    """Symbol -> the symbol that notation prints."""
    if notation not in NOTATIONS:
        raise DeltapropError(f"unknown notation {notation!r}; choose from {', '.join(NOTATIONS)}")
    zl, al, yl, order, _ = NOTATIONS[notation]
    sep = "" if "_" not in next(iter(d.z.values())).name else "_"
    m = {}
    for j in d.net.ids:
        s = d.spell[j]
        m[d.z[j]] = sp.Symbol(f"{zl}{sep}{s}", real=True)
        m[d.a[j]] = sp.Symbol(f"{yl if j in d.net.outputs else al}{sep}{s}", real=True)
    for (i, j), w in d.w.items():
        a, b = (d.spell[i], d.spell[j]) if order == "ij" else (d.spell[j], d.spell[i])
        m[w] = sp.Symbol(f"w{sep}{a}{sep}{b}", real=True)
    return m


def show(e: sp.Expr, m: dict, fmt: str) -> str:
    e = e.xreplace(m)
    return sp.latex(e) if fmt == "latex" else sp.sstr(e)


# --- from likelihood to loss (seed 003, exercises e, g, i, k and l) ------------------------------------------------
# Bishop's notation as in seed 003: a the weighted input of an output unit, y = h(a) its output, t the target.

ya, yt, ys2 = sp.symbols("a t sigma2", real=True)
yy = sp.Symbol("y", real=True)


@dataclass
class LikelihoodDerivation:
    name: str
    title: str
    steps: list[str]  # LaTeX, one equation or sentence per step
    loss: sp.Expr  # E per sample, in y and t (categorical: in y1..yK, t1..tK)
    activation: str  # the output activation y = h(a) that makes δ simple (the canonical link)
    delta: sp.Expr  # δ = ∂E/∂a in y and t
    verified: bool  # SymPy: diff(E(h(a)), a) − δ simplifies to 0
    note: str = ""


def _check(E_of_a: sp.Expr, a_sym, delta_of_a: sp.Expr) -> bool:
    diff = sp.diff(E_of_a, a_sym) - delta_of_a
    return sp.simplify(diff.rewrite(sp.exp)) == 0


def likelihood(name: str) -> LikelihoodDerivation:
    """The negative log-likelihood of one target as a loss, and δ = ∂E/∂a for its canonical output activation."""
    checks.text_arg(name, "likelihood: name")
    y, t, a, s2 = yy, yt, ya, ys2
    if name == "gaussian":
        p = sp.exp(-(t - y) ** 2 / (2 * s2)) / sp.sqrt(2 * sp.pi * s2)
        E = sp.expand_log(-sp.log(p), force=True)
        delta = (y - t) / s2
        ok = _check(E.subs(y, a), a, delta.subs(y, a))
        steps = [r"p(t \mid y) = \mathcal{N}(t \mid y, \sigma^2) = \frac{1}{\sqrt{2\pi\sigma^2}} e^{-(t-y)^2/2\sigma^2}",
                 r"E = -\log p(t \mid y) = \frac{1}{2}\log 2\pi\sigma^2 + \frac{(y-t)^2}{2\sigma^2}",
                 r"\text{over } N \text{ samples of } D \text{ outputs: } E(w) = \frac{ND}{2}\log 2\pi\sigma^2"
                 r" + \frac{1}{2\sigma^2}\sum_n \lVert y(x_n) - t_n \rVert^2 \text{ (exercise e)}",
                 r"y = h(a) = a \text{ (identity output)}",
                 r"\delta = \frac{\partial E}{\partial a} = \frac{\partial E}{\partial y}\frac{\partial y}{\partial a}"
                 r" = \frac{y - t}{\sigma^2} \cdot 1 = \frac{y-t}{\sigma^2}"]
        return LikelihoodDerivation(name, "Gaussian likelihood → sum of squares", steps, E, "identity", delta, ok,
                                    "with σ² = 1 and the ½ kept: δ = y − t (exercise k); σ² does not move the optimum in w")
    if name == "bernoulli":
        E = -(t * sp.log(y) + (1 - t) * sp.log(1 - y))
        delta = y - t
        ok = _check(E.subs(y, sigma(a)), a, sigma(a) - t)
        steps = [r"p(t \mid y) = y^{t} (1-y)^{1-t}, \quad t \in \{0, 1\}",
                 r"E = -\log p = -t\log y - (1-t)\log(1-y) \text{ (binary cross-entropy)}",
                 r"y = \sigma(a) = \frac{1}{1+e^{-a}}, \quad \frac{\partial y}{\partial a} = y(1-y)",
                 r"\frac{\partial E}{\partial y} = -\frac{t}{y} + \frac{1-t}{1-y} = \frac{y-t}{y(1-y)}",
                 r"\delta = \frac{\partial E}{\partial y}\frac{\partial y}{\partial a} = \frac{y-t}{y(1-y)}\,y(1-y) = y - t"]
        return LikelihoodDerivation(name, "Bernoulli likelihood → binary cross-entropy", steps, E, "sigmoid", delta, ok)
    if name == "categorical":
        K = 3  # SymPy checks the general result on K = 3 classes; the steps hold for any K
        aa = sp.symbols("a1:4", real=True)
        tt = sp.symbols("t1:4", real=True)
        Z = sum(sp.exp(x) for x in aa)
        E3 = -sum(tk * (ak - sp.log(Z)) for tk, ak in zip(tt, aa))
        d1 = sp.diff(E3, aa[0]).subs(tt[2], 1 - tt[0] - tt[1])
        ok = sp.simplify(d1 - (sp.exp(aa[0]) / Z - tt[0])) == 0
        yk, tk, j = sp.Symbol("y_k"), sp.Symbol("t_k"), sp.Symbol("j")
        steps = [r"p(\mathbf{t} \mid \mathbf{y}) = \prod_{k=1}^K y_k^{t_k}, \quad \mathbf{t} \text{ one-hot}",
                 r"E = -\log p = -\sum_k t_k \log y_k \text{ (cross-entropy, exercise g)}",
                 r"y_k = \frac{e^{a_k}}{\sum_j e^{a_j}} \Rightarrow \log y_k = a_k - \log\sum_j e^{a_j}",
                 r"E = -\sum_k t_k a_k + \Big(\sum_k t_k\Big) \log \sum_j e^{a_j} = -\sum_k t_k a_k + \log\sum_j e^{a_j}"
                 r" \quad \text{since } \sum_k t_k = 1",
                 r"\frac{\partial}{\partial a_j} \log\sum_k e^{a_k} = \frac{e^{a_j}}{\sum_k e^{a_k}} = y_j",
                 r"\delta_j = \frac{\partial E}{\partial a_j} = -t_j + y_j = y_j - t_j"]
        return LikelihoodDerivation(name, "Categorical likelihood → cross-entropy with softmax", steps,
                                    -tk * sp.log(yk), "softmax", sp.Symbol("y_j") - sp.Symbol("t_j"), ok,
                                    f"checked by SymPy for K = {K}; seed 003's answer to (i) stops before this "
                                    "and differentiates with respect to the weights by mistake")
    if name == "poisson":
        E = y - t * sp.log(y) + sp.loggamma(t + 1)
        delta = y - t
        ok = _check(E.subs(y, sp.exp(a)), a, sp.exp(a) - t)
        steps = [r"p(t \mid y) = \frac{y^{t} e^{-y}}{t!}, \quad t \in \{0, 1, 2, \dots\}, \; y > 0 \text{ the rate}",
                 r"E = -\log p = y - t\log y + \log t! \quad (\log t! \text{ does not depend on } w)",
                 r"y = e^{a} \text{ (exp output, the canonical log link)}",
                 r"\frac{\partial E}{\partial y} = 1 - \frac{t}{y}, \quad \frac{\partial y}{\partial a} = y",
                 r"\delta = \Big(1 - \frac{t}{y}\Big) y = y - t"]
        return LikelihoodDerivation(name, "Poisson likelihood → Poisson deviance", steps, E, "exp(z)", delta, ok)
    if name == "exponential":
        E = t / y + sp.log(y)
        delta = y - t
        ok = _check(E.subs(y, -1 / a), a, -1 / a - t)
        steps = [r"p(t \mid y) = \frac{1}{y} e^{-t/y}, \quad t > 0, \; y = \mathbb{E}[t] > 0 \text{ the mean}",
                 r"E = -\log p = \frac{t}{y} + \log y",
                 r"\text{exponential family: } p = \exp(\theta t + \log(-\theta)), \; \theta = -1/y \text{ natural parameter}",
                 r"a = \theta \Rightarrow y = h(a) = -\frac{1}{a} \;(a < 0) \text{ (canonical link)}",
                 r"\frac{\partial E}{\partial y} = \frac{y - t}{y^2}, \quad \frac{\partial y}{\partial a} = \frac{1}{a^2} = y^2",
                 r"\delta = \frac{y-t}{y^2}\,y^2 = y - t"]
        return LikelihoodDerivation(
            name, "Exponential likelihood → t/y + log y", steps, E, "-1/z", delta, ok,
            "E = t/y + log y is the Itakura–Saito distance of seed 004 plus log t + 1 (constant in w). "
            "The canonical link needs a < 0; the usual practical choice y = exp(a) gives δ = 1 − t/y instead")
    raise DeltapropError(f"unknown likelihood {name!r}; choose from gaussian, bernoulli, categorical, poisson, exponential")


LIKELIHOODS = ("gaussian", "bernoulli", "categorical", "poisson", "exponential")

# seed 003, exercise (l): the rules for a data set of N samples. The seed's answer puts the sum over n inside δ
# and gives the weights an index n; weights are shared by all samples, and δ stays per sample.
BATCH_RULES = [
    r"E(w) = \sum_{n=1}^N E_n(w)",
    r"\frac{\partial E}{\partial w_{ji}^{(l)}} = \sum_{n=1}^N \delta_{nj}^{(l)} z_{ni}^{(l-1)}",
    r"\delta_{nj}^{(L)} = \frac{\partial E_n}{\partial a_{nj}^{(L)}} = y_{nj} - t_{nj} \text{ (canonical pairs)}",
    r"\delta_{nj}^{(l)} = h_l'(a_{nj}^{(l)}) \sum_{k} w_{kj}^{(l+1)} \delta_{nk}^{(l+1)}",
]


def derive(net: GraphNetwork, X, T, wrt: str) -> Derivation:
    """∂L/∂(wrt) of ``net`` at the one sample (X, T): ``wrt`` as z3, a3, b6, w36 (or z_h1, w_h1_o1)."""
    checks.instance_arg(net, GraphNetwork, "derive: net")
    checks.text_arg(wrt, "derive: wrt")
    return Deriver(net, checks.batch(X, net.n_inputs, "derive: X"), T).derive(wrt)
