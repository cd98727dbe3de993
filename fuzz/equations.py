"""Every displayed equation of a worked solution is true: read each one back from the Markdown and the LaTeX and
check every "=" against the engine, on random graphs.

    PYTHONPATH=src python fuzz/equations.py --graphs 1000 [--seed 0]

Each random graph has 1–3 inputs, hidden neurons, 1–3 outputs (outputs may feed outputs), skip links and every
activation of the registry plus formulas; losses are registry names and formulas; every fourth graph has 2–4
outputs that share one softmax (cross-entropy or other losses, one-hot or other targets). For each graph ``derive``
writes worked solutions (Markdown and LaTeX, all three notations in turn) for several targets; this script
parses every ``$$ … $$`` line and every ``align*`` row with its own reader of the LaTeX that SymPy prints
(:class:`TexReader`), gives every symbol the engine's value (z, a, x, w, b, δ, t by name; ∂L/∂q, ∂ℓ_k/∂a_k and
∂a_k/∂z_k from the engine's backward pass and loss gradient, not from the derivation), and checks that all sides
of the chain are equal: at the sample (numbers rounded to 6 digits: relative 2e-3) and, for the sides without
numbers, at random points — other weights, inputs and targets for the same graph (relative 1e-7).
A side that the reader cannot parse is a failure too. Exits 1 on any failure, printing it.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deltaprop.cli.derive import render  # noqa: E402
from deltaprop.files import netfile  # noqa: E402
from deltaprop.explain import symbolic  # noqa: E402

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "square", "z**3/3 + z",
               "tanh(2*z)", "softplus(z) - 1", "sigmoid(z)*z", "abs(z)", "max(z, 0) + z/2", "exp(-z**2)", "sin(z)"]
LOSSES = [{"name": "quadratic"}, {"formula": "(a - t)**2/2 + a**4/10"}, {"formula": "log(cosh(a - t))"},
          {"formula": "(a - t)**2"}, {"formula": "abs(a - t)**3/3"}]
NOTATIONS = ["nielsen", "bishop", "exam"]
SOFTMAX = True  # every fourth graph: outputs that share one softmax


class Unparsed(Exception):
    pass


# --- a reader for the LaTeX that the worked solutions print ---------------------------------------------------------

_FUNCS = {r"\tanh": "tanh", r"\log": "log", r"\sin": "sin", r"\cos": "cos", r"\exp": "exp", r"\cosh": "cosh",
          r"\sinh": "sinh", r"\max": "max_", r"\min": "min_", r"\operatorname{erf}": "erf",
          r"\operatorname{sign}": "sign", r"\sigma'": "sigp", r"\sigma": "sig", r"\theta": "heav"}
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e-?\d+)?")
SYMBOL = re.compile(r"(\\delta|\\ell|[A-Za-z])(?:_\{([^{}]*)\}|_([A-Za-z0-9]))?")


class TexReader:
    """LaTeX side → a Python expression over named quantities, evaluated with the engine's values."""

    def __init__(self, lookup, primes: dict):
        self.lookup, self.primes = lookup, primes  # lookup(kind, text) -> float or raise KeyError

    def value(self, tex: str) -> float:
        self.vars: dict[str, float] = {}
        self.symbols = 0  # quantities looked up: 0 for a side of numbers only
        py = self.expr(tex.strip())
        env = {"__builtins__": {}, "tanh": math.tanh, "log": math.log, "sin": math.sin, "cos": math.cos,
               "exp": math.exp, "cosh": math.cosh, "sinh": math.sinh, "erf": math.erf, "abs": abs,
               "max_": max, "min_": min, "sign": lambda v: float(v > 0) - float(v < 0), "heav": lambda v: float(v > 0),
               "sig": lambda v: 1 / (1 + math.exp(-v)), "sqrt": math.sqrt,
               "sigp": lambda v: (1 / (1 + math.exp(-v))) * (1 - 1 / (1 + math.exp(-v)))}
        env.update(self.primes)
        env.update(self.vars)
        try:
            return float(eval(py, env))  # our own translation of our own output, in a test harness
        except (SyntaxError, NameError, TypeError) as e:
            raise Unparsed(f"{tex!r} -> {py!r}: {e}") from None

    def var(self, v: float) -> str:
        self.symbols += 1
        name = f"q{len(self.vars)}"
        self.vars[name] = float(v)
        return name

    def group(self, s: str, i: int) -> tuple[str, int]:
        """The text inside the braces that start at s[i]."""
        if s[i] != "{":
            raise Unparsed(f"expected '{{' at {i} in {s!r}")
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        raise Unparsed(f"unbalanced braces in {s!r}")

    def paren(self, s: str, i: int) -> tuple[str, int]:
        """The text between \\left( at s[i] and its \\right)."""
        assert s.startswith(r"\left(", i)
        depth, j = 0, i
        while j < len(s):
            if s.startswith(r"\left", j):
                depth += 1
                j += 5
            elif s.startswith(r"\right", j):
                depth -= 1
                j += 6
                if depth == 0:
                    return s[i + 6:j - 6], j + 1
            else:
                j += 1
        raise Unparsed(f"unbalanced \\left( in {s!r}")

    def expr(self, s: str) -> str:
        out: list[str] = []
        i = 0

        def operand(text: str) -> None:
            if out and (out[-1][-1].isalnum() or out[-1][-1] in ")_"):
                out.append("*")
            out.append(text)

        while i < len(s):
            c = s[i]
            if c.isspace():
                i += 1
                continue
            if s.startswith(r"\frac", i):
                num, i = self.group(s, i + 5)
                den, i = self.group(s, i)
                if num.strip().startswith(r"\partial"):
                    operand(self.var(self.lookup("partial", (num.strip()[8:].strip(), den.strip()[8:].strip()))))
                else:
                    operand(f"(({self.expr(num)})/({self.expr(den)}))")
                continue
            if s.startswith(r"\left(", i):
                inner, i = self.paren(s, i)
                operand(f"({self.expr(inner)})")
                continue
            if s.startswith(r"\left|", i):
                j = s.index(r"\right|", i)
                operand(f"abs({self.expr(s[i + 6:j])})")
                i = j + 7
                continue
            if s.startswith(r"\cdot", i):
                out.append("*")
                i += 5
                continue
            if s.startswith(r"\sqrt", i):
                inner, i = self.group(s, i + 5)
                operand(f"sqrt({self.expr(inner)})")
                continue
            if s.startswith("e^", i) and not (i + 2 < len(s) and s[i + 1].isalnum()):
                inner, i = self.group(s, i + 2)
                operand(f"exp({self.expr(inner)})")
                continue
            m = re.match(r"\\operatorname\{([^{}]*)\}'", s[i:])
            if m:
                name = m.group(1)
                if name not in self.primes:
                    raise Unparsed(f"unknown function {name!r}")
                i += m.end()
                i, arg = self.argument(s, i)
                operand(f"{name}({arg})")
                continue
            fn = next((f for f in sorted(_FUNCS, key=len, reverse=True) if s.startswith(f, i)
                       and not (i + len(f) < len(s) and s[i + len(f)].isalpha())), None)
            if fn is not None:
                i += len(fn)
                power = None
                if s.startswith("^", i):
                    power, i = self.group(s, i + 1)
                while i < len(s) and s[i].isspace():
                    i += 1
                i, arg = self.argument(s, i)
                call = f"{_FUNCS[fn]}({arg})"
                operand(call if power is None else f"({call})**({self.expr(power)})")
                continue
            if c == "^":
                if s.startswith("^{", i):
                    inner, i = self.group(s, i + 1)
                else:
                    inner, i = s[i + 1], i + 2
                out.append(f"**({self.expr(inner)})")
                continue
            m = NUMBER.match(s, i)
            if m:
                operand(m.group(0))
                i = m.end()
                continue
            m = SYMBOL.match(s, i)
            if m and not s.startswith(r"\text", i):
                key = m.group(0)
                operand(self.var(self.lookup("symbol", key)))
                i = m.end()
                continue
            if c in "+-*/,":
                out.append(c)
                i += 1
                continue
            if c == "{":
                inner, i = self.group(s, i)
                operand(f"({self.expr(inner)})")
                continue
            raise Unparsed(f"cannot read {s[i:i + 30]!r} in {s!r}")
        return " ".join(out)

    def argument(self, s: str, i: int) -> tuple[int, str]:
        if s.startswith("{", i):
            inner, i = self.group(s, i)
            return i, self.expr(inner)
        if s.startswith(r"\left(", i):
            inner, i = self.paren(s, i)
            return i, self.expr(inner)
        raise Unparsed(f"function without an argument in {s!r}")


# --- the engine's values, by printed name ---------------------------------------------------------------------------


class Values:
    """Every quantity of a graph at one point, from the engine, addressable by the names a notation prints."""

    def __init__(self, net, X, T, d: symbolic.Deriver, notation: str):
        import sympy as sp

        tr = net.forward(X)
        g = net.backward(tr, T)
        T = net._target(T, 1)
        m = symbolic.renamer(notation, d)
        name = lambda s: sp.latex(m.get(s, s))  # noqa: E731
        v: dict[str, float] = {}
        kinds: dict[str, tuple] = {}
        A_out = tr.A[net.out_pos].T
        dl = net.loss.grad(A_out, T)[0]
        for j in net.ids:
            p = net.index[j]
            v[name(d.a[j])] = tr.A[p, 0]
            kinds[name(d.a[j])] = ("a", j)
            if p >= net.n_inputs:
                v[name(d.z[j])] = tr.Z[p, 0]
                kinds[name(d.z[j])] = ("z", j)
                v[name(d.delta[j])] = g.delta[p, 0]
                v[name(d.b[j])] = net.b[p - net.n_inputs]
                kinds[name(d.b[j])] = ("b", j)
        for e, (i, j) in enumerate(net.edges):
            v[name(d.w[i, j])] = net.w[e]
            kinds[name(d.w[i, j])] = ("w", (i, j))
        self.ell = {}
        for c, k in enumerate(net.outputs):
            v[name(d.t[k])] = T[0, c]
            ell = r"\ell" if len(net.outputs) == 1 else rf"\ell_{{{d.spell[k]}}}"
            self.ell[ell] = (float(net.loss.value(A_out[:, [c]], T[:, [c]])[0]), dl[c])
        v["L"] = float(g.cost)
        self.v, self.kinds, self.net, self.tr, self.g, self.d, self.dl = v, kinds, net, tr, g, d, dl

    def lookup(self, kind, key):
        if kind == "symbol":
            if key in self.v:
                return self.v[key]
            if key in self.ell:
                return self.ell[key][0]
            if key in ("k", "K", r"\eta"):
                return 0.37
            raise Unparsed(f"unknown symbol {key!r}")
        top, bottom = key
        if top == "L":
            q = self.kinds.get(bottom)
            if q is None:
                raise Unparsed(f"unknown quantity {bottom!r}")
            return self.dL(*q)
        if top in self.ell:  # ∂ℓ_k/∂a_k: the loss gradient of that output
            return self.ell[top][1]
        q_top, q_bot = self.kinds.get(top), self.kinds.get(bottom)
        net = self.net
        soft = lambda j: net.index[j] >= net.n_inputs and \
            net.activations[net.index[j] - net.n_inputs].name == "softmax"  # noqa: E731
        if q_top and q_bot and q_top[0] == "a" and q_bot[0] == "z" and soft(q_top[1]) and soft(q_bot[1]):
            m, k = net.index[q_top[1]], net.index[q_bot[1]]  # the softmax Jacobian a_m (1[m = k] − a_k)
            A = self.tr.A[:, 0]
            return A[m] * ((m == k) - A[k])
        if q_top and q_bot and q_top[0] == "a" and q_bot[0] == "z" and q_top[1] == q_bot[1]:
            return self.g.sigma_prime[net.index[q_top[1]], 0] if self.g.sigma_prime.ndim == 2 else \
                float(net.activations[net.index[q_top[1]] - net.n_inputs].df(
                    self.tr.Z[net.index[q_top[1]], :1], self.tr.A[net.index[q_top[1]], :1])[0])
        if q_top and q_bot and q_top[0] == "z" and q_bot[0] == "w" and q_bot[1][1] == q_top[1]:
            return self.tr.A[net.index[q_bot[1][0]], 0]
        if q_top and q_bot and q_top[0] == "z" and q_bot[0] == "b" and q_bot[1] == q_top[1]:
            return 1.0
        raise Unparsed(f"unknown partial ∂{top}/∂{bottom}")

    def dL(self, kind, key) -> float:
        net, g = self.net, self.g
        if kind in ("z", "b"):
            return g.delta[net.index[key], 0]
        if kind == "w":
            return g.w[net.edges.index(key)]
        p = net.index[key]
        total = sum(net.w[e] * g.delta[net.dst[e], 0] for e in np.flatnonzero(net.src == p))
        if key in net.outputs:
            total += self.dl[net.outputs.index(key)]
        return total if p >= net.n_inputs else g.delta[p, 0]


def prime_functions() -> dict:
    out = {}
    for cls in symbolic.PRIMES.values():
        g = cls.activation
        out[cls.label] = lambda v, g=g: float(g.df(np.array([float(v)]), g.f(np.array([float(v)])))[0])
    return out


# --- random graphs --------------------------------------------------------------------------------------------------


SOFTMAX_LOSSES = [{"name": "cross_entropy"}, {"formula": "(a - t)**2/2"}, {"formula": "-t*log(a) + a**2"}]


def softmax_doc(rng: random.Random) -> dict:
    """Hidden neurons with skip links, and 2–4 outputs that share one softmax."""
    doc = random_doc(rng, n_out=rng.randint(2, 4), feed_outputs=False)
    for o in doc["outputs"]:
        doc["neurons"][o]["activation"] = "softmax"
    loss = dict(rng.choice(SOFTMAX_LOSSES))
    doc["loss"] = loss
    t = [rng.random() for _ in doc["outputs"]]
    if loss.get("name") == "cross_entropy" or rng.random() < 0.5:  # one-hot targets, or any positive ones
        t = [0.0] * len(t)
        t[rng.randrange(len(t))] = 1.0
    doc["sample"]["t"] = dict(zip(doc["outputs"], t))
    return doc


def random_doc(rng: random.Random, n_out: int | None = None, feed_outputs: bool = True) -> dict:
    n_in, n_hidden = rng.randint(1, 3), rng.randint(0, 4)
    n_out = rng.randint(1, 3) if n_out is None else n_out
    inputs = [str(i + 1) for i in range(n_in)] if rng.random() < 0.6 else [f"x{i + 1}" for i in range(n_in)]
    names = [str(n_in + i + 1) for i in range(n_hidden + n_out)] if inputs[0] == "1" else \
        [f"h{i + 1}" for i in range(n_hidden)] + [f"o{i + 1}" for i in range(n_out)]
    neurons, order = {}, list(inputs)
    for k, j in enumerate(names):
        pool = order if feed_outputs else [s for s in order if s not in names[n_hidden:]]
        srcs = [s for s in pool if rng.random() < 0.6] or [rng.choice(pool)]
        if feed_outputs and k >= n_hidden and rng.random() < 0.3 and k > n_hidden:  # an output fed by an output
            srcs = sorted(set(srcs) | {names[k - 1]}, key=order.index)
        neurons[j] = {"weights": {s: round(rng.uniform(-1.5, 1.5), 3) for s in srcs},
                      "bias": round(rng.uniform(-0.5, 0.5), 3), "activation": rng.choice(ACTIVATIONS)}
        order.append(j)
    outputs = names[n_hidden:]
    for j in names[:n_hidden]:  # every hidden neuron feeds something after it
        if not any(j in neurons[k]["weights"] for k in names):
            later = names[names.index(j) + 1:]
            neurons[rng.choice(later)]["weights"][j] = round(rng.uniform(-1.5, 1.5), 3)
    return {"inputs": inputs, "outputs": outputs, "neurons": neurons, "loss": dict(rng.choice(LOSSES)),
            "sample": {"x": {i: round(rng.uniform(-1.5, 1.5), 3) for i in inputs},
                       "t": {o: round(rng.uniform(-1, 1), 3) for o in outputs}}}


def reweighted(doc: dict, rng: random.Random) -> dict:
    """Other weights, inputs and targets for the same graph; one-hot targets stay one-hot (a softmax's
    a − t holds for targets that sum to 1, and says so)."""
    t = {o: rng.uniform(-1, 1) for o in doc["outputs"]}
    old = list(doc["sample"]["t"].values())
    if sorted(old) == [0.0] * (len(old) - 1) + [1.0]:
        hot = rng.choice(doc["outputs"])
        t = {o: float(o == hot) for o in doc["outputs"]}
    new = {**doc, "neurons": {j: {**n, "weights": {s: rng.uniform(-1.5, 1.5) for s in n["weights"]},
                                  "bias": rng.uniform(-0.5, 0.5)} for j, n in doc["neurons"].items()},
           "sample": {"x": {i: rng.uniform(-1.5, 1.5) for i in doc["inputs"]}, "t": t}}
    return new


# --- reading the solutions back -------------------------------------------------------------------------------------


def equations(markdown: str, latex: str) -> list[str]:
    """Every displayed equation: the $$ lines of the Markdown and the align* rows of the LaTeX."""
    out = [line.strip()[2:-2] for line in markdown.splitlines() if line.startswith("$$")]
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", latex, re.S):
        for row in block.split(" \\\\\n"):
            out.append(row.replace("&=", "=").replace(r"&\leftarrow", r"\leftarrow"))
    return out


def split_sides(eq: str) -> list[str]:
    """The sides of a chain a = b = c (an update w ← rhs: the right-hand sides), split at top-level '='."""
    if r"\leftarrow" in eq:
        eq = eq.split(r"\leftarrow", 1)[1]
    sides, depth, cur = [], 0, ""
    i = 0
    while i < len(eq):
        ch = eq[i]
        if eq.startswith(r"\left", i):
            depth += 1
        elif eq.startswith(r"\right", i):
            depth -= 1
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            sides.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    return sides + [cur]


def has_numbers(side: str, reader: "TexReader") -> bool:
    """A side with the sample's numbers in it (or only numbers): true at the sample only."""
    return bool(re.search(r"\d\.\d|\d{3,}|e-\d", side)) or reader.symbols == 0


def close(x: float, y: float, rel: float) -> bool:
    return math.isclose(x, y, rel_tol=rel, abs_tol=rel * 1e-2) or (not math.isfinite(x) and not math.isfinite(y))


def check_graph(doc: dict, rng: random.Random, targets: int = 3, points: int = 2) -> tuple[int, list[str]]:
    """(equations checked, failures) for one graph."""
    net = netfile.graph_from_dict(doc)
    X, T = netfile.sample(doc, net)
    d = symbolic.Deriver(net, X, T)
    wrts = [f"z{d.sep}{d.spell[j]}" for j in net.neurons]
    wrts += [f"w{d.sep}{d.spell[i]}{d.sep}{d.spell[j]}" for i, j in net.edges]
    wrts += [f"b{d.sep}{d.spell[j]}" for j in net.neurons] + [f"a{d.sep}{d.spell[j]}" for j in net.neurons]
    chosen = rng.sample(wrts, min(targets, len(wrts)))
    count, failures = 0, []
    others = [reweighted(doc, rng) for _ in range(points)]
    for wrt in chosen:
        notation = rng.choice(NOTATIONS)
        r = d.derive(wrt)
        lr = rng.choice([None, 0.1, "k"])
        import sympy as sp

        lr_v = sp.Symbol("k", positive=True) if lr == "k" else lr
        md = render(d, r, "markdown", notation, True, lr_v)
        tex = render(d, r, "latex", notation, True, lr_v)
        eqs = equations(md, tex)
        primes = prime_functions()
        here = Values(net, X, T, d, notation)
        there = []
        for o in others:
            n2 = netfile.graph_from_dict(o)
            there.append(Values(n2, *netfile.sample(o, n2), d, notation))
        c, f = check_equations(eqs, here, there, primes, f"{wrt} [{notation}]")
        count += c
        failures += f
    return count, failures


def check_equations(eqs: list[str], here: Values, there: list[Values], primes: dict, label: str = ""):
    """(count, failures): each chain's sides equal at the sample (``here``) and, without numbers, at ``there``."""
    count, failures = 0, []
    for eq in eqs:
        sides = split_sides(eq)
        count += 1
        try:
            readers = [TexReader(here.lookup, primes) for _ in sides]
            vals = [rd.value(s) for rd, s in zip(readers, sides)]
        except (Unparsed, ValueError, OverflowError, ZeroDivisionError) as e:
            failures.append(f"{label} unreadable: {e} in {eq}")
            continue
        if not all(close(v, vals[0], 2e-3) for v in vals):
            failures.append(f"{label} false at the sample: {eq}\n    values {vals}")
            continue
        symbolic_sides = [s for s, rd in zip(sides, readers) if not has_numbers(s, rd)]
        if len(symbolic_sides) < 2:
            continue
        for vs in there:
            try:
                vv = [TexReader(vs.lookup, primes).value(s) for s in symbolic_sides]
            except (ValueError, OverflowError, ZeroDivisionError):
                continue  # outside the domain at this point (log of a negative): nothing to compare
            if not all(close(v, vv[0], 1e-7) for v in vv):
                failures.append(f"{label} false at a random point: {eq}\n    values {vv}")
    return count, failures


def run(graphs: int, seed: int, verbose: bool = True) -> tuple[int, int, list[str]]:
    rng = random.Random(seed)
    n_eq, fails, done = 0, [], 0
    t0 = time.perf_counter()
    for g in range(graphs):
        doc = softmax_doc(rng) if SOFTMAX and g % 4 == 3 else random_doc(rng)
        try:
            c, f = check_graph(doc, rng)
        except Exception as e:  # a crash in derive is a failure too
            import traceback

            f, c = [f"graph {g}: {type(e).__name__}: {e}\n{traceback.format_exc()}\n{doc}"], 0
        n_eq += c
        fails += [f"graph {g}: {x}" for x in f]
        done += 1
        if verbose and (g + 1) % 50 == 0:
            print(f"{g + 1} graphs, {n_eq} equations, {len(fails)} failures, {time.perf_counter() - t0:.0f} s",
                  flush=True)
    return done, n_eq, fails


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--graphs", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    done, n_eq, fails = run(args.graphs, args.seed)
    for f in fails[:20]:
        print(f)
    print(f"{done} random graphs, {n_eq} displayed equations checked, {len(fails)} false or unreadable")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
