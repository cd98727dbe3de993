"""Formula text → SymPy → NumPy: activations in z, losses in a and t, typed by a person.

The text is never given to ``eval``, ``exec`` or SymPy's ``parse_expr`` (which evaluates Python). It is
parsed by Python's ``ast`` module only into a syntax tree, and :func:`parse` walks that tree accepting a
short whitelist — numbers, the allowed variable names, + − * / ** and calls of the functions in
:data:`FUNCTIONS` — and builds the SymPy expression itself. Anything else (attributes, subscripts, lambdas,
comprehensions, strings, keywords, ``__import__``…) is refused with a :class:`DeltapropError` naming it.
Size limits keep SymPy from being asked for something enormous (``9**9**9``).

SymPy then differentiates, and ``lambdify`` turns *our own* expression tree into NumPy code.
"""

from __future__ import annotations

import ast
import warnings
import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import sympy as sp
from scipy.special import erf, expit

from ..errors import DeltapropError

MAX_CHARS = 1000  # a formula is one line typed by a person
MAX_NODES = 300  # syntax-tree nodes: far more than any activation or loss in the notes
MAX_DEPTH = 40  # nesting of the tree
MAX_EXPONENT = 100  # a constant exponent above this is a typo or an attack (9**9**9 would hang SymPy)
MAX_DIGITS = 400  # a constant power whose result has more decimal digits is refused for the same reason
MAX_CONSTANT = 1e300  # every constant in a formula, written or computed (99**99*99**99), must be a float

# Symbols are real: then d|z|/dz = sign(z), and log(t/a) stays as written.
z, a, t = sp.symbols("z a t", real=True)


class sigma(sp.Function):
    """The logistic function σ(x) = 1/(1 + e^−x), kept as one symbol so derivations read σ(z₃), σ′ = σ(1 − σ)."""

    def fdiff(self, argindex=1):
        s = sigma(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = rf"\sigma\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


def _softplus(x):
    return sp.log(1 + sp.exp(x))


# name -> (SymPy builder, number of arguments; None for two or more)
FUNCTIONS: dict[str, tuple] = {
    "exp": (sp.exp, 1), "log": (sp.log, 1), "ln": (sp.log, 1), "sqrt": (sp.sqrt, 1),
    "abs": (sp.Abs, 1), "Abs": (sp.Abs, 1),
    "sin": (sp.sin, 1), "cos": (sp.cos, 1), "tan": (sp.tan, 1),
    "sinh": (sp.sinh, 1), "cosh": (sp.cosh, 1), "tanh": (sp.tanh, 1),
    "asinh": (sp.asinh, 1), "atan": (sp.atan, 1), "erf": (sp.erf, 1),
    "sigmoid": (sigma, 1), "sigma": (sigma, 1), "logistic": (sigma, 1),
    "softplus": (_softplus, 1), "heaviside": (sp.Heaviside, 1), "sign": (sp.sign, 1),
    "max": (sp.Max, None), "Max": (sp.Max, None), "min": (sp.Min, None), "Min": (sp.Min, None),
}
CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}
NOT_ANALYTIC = (sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.sign)  # no complex step through these

_BINARY = {ast.Add: sp.Add, ast.Mult: sp.Mul}


def parse(text: str, variables: dict[str, sp.Symbol], what: str = "formula") -> sp.Expr:
    """The SymPy expression of ``text``, which may use ``variables`` (name -> Symbol) and nothing else unknown.

    Raises DeltapropError, naming the offending piece, for anything outside the whitelist.
    """
    if not isinstance(text, str):
        raise DeltapropError(f"{what} must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise DeltapropError(f"{what} is {len(text)} characters long; formulas are limited to {MAX_CHARS}")
    if not text.strip():
        raise DeltapropError(f"{what} is empty")
    source = text.strip().replace("^", "**")  # z^2 is what people type; Python's ^ is xor, never meant here
    try:
        with warnings.catch_warnings():  # "2e" etc. warn before they fail; the error below says it in one line
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        msg = getattr(e, "msg", None) or str(e) or type(e).__name__
        raise DeltapropError(f"{what} {text!r} is not a formula: {msg}") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise DeltapropError(f"{what} is too large ({nodes} syntax nodes; the limit is {MAX_NODES})")
    expr = _Builder(text, variables, what).build(tree.body, 0)
    _check_constants(expr, text, what)
    if expr.has(sp.I, sp.zoo, sp.oo, -sp.oo, sp.nan):  # sqrt(-1), 1/0, log(0): not a real function
        raise DeltapropError(f"{what} {text!r} is complex, infinite or undefined (e.g. sqrt(-1), 1/0, log(0))")
    return expr


class _Builder:
    def __init__(self, text: str, variables: dict, what: str):
        self.text, self.variables, self.what = text, variables, what

    def refuse(self, node, why: str):
        piece = ast.get_source_segment(self.text.strip().replace("^", "**"), node) or type(node).__name__
        allowed = ", ".join(sorted(self.variables)) or "no variables"
        raise DeltapropError(
            f"{self.what} {self.text!r}: {why}: {piece!r}. Allowed: numbers, {allowed}, + - * / **, "
            f"and the functions {', '.join(sorted(set(FUNCTIONS) - {'Abs', 'Max', 'Min'}))}"
        )

    def build(self, node, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise DeltapropError(f"{self.what} is nested too deeply (limit {MAX_DEPTH})")
        d = depth + 1
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.refuse(node, "only numbers may be written as constants")
            if isinstance(v, float) and not math.isfinite(v):
                self.refuse(node, "the number is not finite")
            if isinstance(v, int) and abs(v) > 10**MAX_DIGITS:
                self.refuse(node, "the number is too large")
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        if isinstance(node, ast.Name):
            if node.id in self.variables:
                return self.variables[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in FUNCTIONS:
                self.refuse(node, "a function must be called with an argument")
            self.refuse(node, "unknown name")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            x = self.build(node.operand, d)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):
            left, right = self.build(node.left, d), self.build(node.right, d)
            op = type(node.op)
            if op in _BINARY:
                return _BINARY[op](left, right)
            if op is ast.Sub:
                return left - right
            if op is ast.Div:
                return left / right
            if op is ast.Pow:
                return self.power(node, left, right)
            self.refuse(node, "operator not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                self.refuse(node.func, "not an allowed function")
            if node.keywords:
                self.refuse(node, "keyword arguments are not allowed")
            builder, arity = FUNCTIONS[node.func.id]
            n = len(node.args)
            if (arity is not None and n != arity) or (arity is None and n < 2):
                want = f"{arity} argument" if arity is not None else "two or more arguments"
                self.refuse(node, f"{node.func.id} takes {want}, got {n}")
            args = [self.build(x, d) for x in node.args]
            return builder(*args)
        self.refuse(node, "not allowed in a formula")

    def power(self, node, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:  # exact comparison: no float of a huge int
            self.refuse(node, f"exponent larger than {MAX_EXPONENT}")
        if base.is_Number and exponent.is_Number and base != 0:
            digits = abs(float(exponent)) * max(_log10(base), -300.0)
            if abs(digits) > MAX_DIGITS:
                self.refuse(node, "the constant power is too large")
        return base**exponent


def _log10(x: sp.Number) -> float:
    """log10 |x| of a SymPy number of any size (math.log10 takes Python ints of any length)."""
    if x.is_Integer:
        return math.log10(abs(int(x)))
    if x.is_Rational:
        return math.log10(abs(int(x.p))) - math.log10(abs(int(x.q)))
    return float(sp.log(abs(x), 10).evalf(15))


def _check_constants(expr: sp.Expr, text: str, what: str) -> None:
    """Refuse a constant (written, or a sub-expression without variables such as 99**99*99**99 or pi**pi**pi**pi)
    that no float can hold: NumPy would overflow or raise deep inside the compiled function."""
    stack = [expr]
    while stack:
        e = stack.pop()
        if e.free_symbols:
            stack.extend(e.args)
            continue
        if e.is_Number and not e.is_Float and not e.is_Rational:
            continue
        try:
            v = e.evalf(15) if not e.is_Rational else e
            big = bool(v.is_Number and not v.is_zero and _log10(v) > math.log10(MAX_CONSTANT))
        except (ValueError, TypeError, OverflowError, ArithmeticError):
            big = True
        if big:
            raise DeltapropError(f"{what} {text!r}: the constant {_short(e)} is too large to compute with "
                                 f"(|value| > {MAX_CONSTANT:g})")


def _short(e: sp.Expr) -> str:
    s = sp.sstr(e)
    return s if len(s) <= 40 else s[:18] + "…" + s[-18:]


# --- compiling to NumPy -----------------------------------------------------------------------------------------


def _sigma_numpy(x):
    if np.iscomplexobj(x):  # expit has no complex loop; used only by the complex-step check (tiny steps)
        return 1 / (1 + np.exp(-x))
    return expit(x)


_MODULES = [{
    "sigma": _sigma_numpy,
    "Heaviside": lambda x, h0=0.0: np.heaviside(x, 0.0),
    "DiracDelta": lambda x, *order: np.zeros_like(x),  # the derivative of a step: 0 wherever it exists
    "erf": erf,  # NumPy has none; SymPy would fall back to math.erf, which takes only scalars
}, "numpy"]


def compile_numpy(expr: sp.Expr, args: tuple[sp.Symbol, ...]):
    """A NumPy function of ``args`` for ``expr`` (a tree we built), broadcasting constants to the input shape."""
    fn = sp.lambdify(args, expr, modules=_MODULES)

    def call(*xs, out=None):
        with np.errstate(over="ignore", under="ignore"):  # e^−z overflowing to inf gives σ = 0: right
            r = fn(*xs)
        if out is None:
            shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
            out = np.empty(shape, dtype=np.result_type(*xs, float))
        out[...] = r
        return out

    return call


def is_analytic(expr: sp.Expr) -> bool:
    return not expr.has(*NOT_ANALYTIC)


@functools.lru_cache(maxsize=256)
def activation_expr(text: str) -> sp.Expr:
    expr = parse(text, {"z": z}, what="activation formula")
    if z not in expr.free_symbols:
        raise DeltapropError(f"activation formula {text!r} does not use z: an activation is a function of z")
    return expr


@functools.lru_cache(maxsize=256)
def loss_expr(text: str) -> sp.Expr:
    expr = parse(text, {"a": a, "t": t}, what="loss formula")
    if a not in expr.free_symbols:
        raise DeltapropError(f"loss formula {text!r} does not use a (the output's activity)")
    return expr


class ActivationFormula(NamedTuple):
    """σ and σ′ compiled from a formula in z, as plain functions; ``activations.get`` makes its Activation
    from them (this module imports neither activations nor losses)."""

    name: str
    f: Callable  # f(z, out=None) -> a
    df: Callable  # df(z, a, out=None) -> σ′(z)
    analytic: bool
    formula: str


class LossFormula(NamedTuple):
    """c and ∂c/∂a compiled from a formula in a and t; ``losses.get`` makes its Loss from them."""

    name: str
    value: Callable  # value(a, t) -> c per sample, (N,)
    grad: Callable  # grad(a, t, out=None) -> ∂c/∂a, (N, n)
    analytic: bool
    formula: str


@functools.lru_cache(maxsize=256)
def activation(text: str) -> ActivationFormula:
    """σ and σ′ from a formula in z, e.g. ``"z**2"`` or ``"tanh(2*z)"``."""
    expr = activation_expr(text.strip())
    f = compile_numpy(expr, (z,))
    df = compile_numpy(sp.diff(expr, z), (z,))
    return ActivationFormula(text.strip(), lambda x, out=None: f(x, out=out), lambda x, y, out=None: df(x, out=out),
                             is_analytic(expr), text.strip())


@functools.lru_cache(maxsize=256)
def loss(text: str) -> LossFormula:
    """c and ∂c/∂a from a formula in a and t, summed over the outputs of a sample."""
    expr = loss_expr(text.strip())
    c = compile_numpy(expr, (a, t))
    dc_da = compile_numpy(sp.diff(expr, a), (a, t))

    def value(A, T):
        return np.sum(c(A, T), axis=1)

    def grad(A, T, out=None):
        return dc_da(A, T, out=out)

    return LossFormula(text.strip(), value, grad, is_analytic(expr), text.strip())
