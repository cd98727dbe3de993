"""Equations with the sample's numbers put in: each symbol printed as its value, each function application as
its value, in the order the symbols are printed, negative numbers in parentheses, and as many significant
digits as the equation needs to stay true when recomputed from what is printed."""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ..engine.formulas import sigma
from .functions import explicit, sigma_prime


def fmt_number(v: float, digits: int = 6) -> str:
    s = f"{v:.{digits}g}"
    return s.replace("e+", "e").replace("e-0", "e-").replace("e0", "e")


def numeric_value(e: sp.Expr, values: dict) -> float:
    """e at the values (symbol -> float): σ, σ′ and the named primes written out, then evaluated."""
    e = explicit(e).replace(sigma, lambda x: 1 / (1 + sp.exp(-x)))
    v = e.xreplace({s: sp.Float(values[s]) for s in e.free_symbols if s in values}).evalf(17)
    return float(sp.re(v))


class _PositiveFirst:
    """Sums printed with their positive terms first, as people write them: z₆² − t rather than −t + z₆²."""

    def _as_ordered_terms(self, expr, order=None):
        terms = super()._as_ordered_terms(expr, order=order)
        pos = [t for t in terms if not t.could_extract_minus_sign()]
        return pos + [t for t in terms if t.could_extract_minus_sign()] if pos else terms


class _Latex(_PositiveFirst, LatexPrinter):
    pass


class _Str(_PositiveFirst, StrPrinter):
    pass


def latex(e: sp.Expr) -> str:
    return _Latex().doprint(e)


def text(e: sp.Expr) -> str:
    return _Str().doprint(e)


def _round(v: float, digits: int) -> float:
    return float(f"{v:.{digits}g}")


def _leaves(e: sp.Expr, values: dict):
    """The pieces printed as numbers: symbols with a value and function applications of them (outermost)."""
    if isinstance(e, sp.Symbol):
        if e in values:
            yield e
        return
    if isinstance(e, sp.Function) and e.free_symbols and e.free_symbols <= set(values):
        yield e
        return
    for arg in e.args:
        yield from _leaves(arg, values)


def digits_needed(e: sp.Expr, values: dict) -> int:
    """The fewest significant digits (6, 8, 10, 12 or 15) at which e, computed from its printed numbers,
    still gives its value (relative 1e-4): 2 − 2·0.999732 would not be 2 − 2 tanh²(2z) at 6 digits."""
    leaves = {x: numeric_value(x, values) for x in set(_leaves(e, values))}
    exact = numeric_value(e, values)
    scale = max([abs(exact)] + [abs(v) for v in leaves.values()] + [1e-300])
    for digits in (6, 8, 10, 12):
        try:
            approx = numeric_value(e.xreplace({x: sp.Float(_round(v, digits), 17) for x, v in leaves.items()}), {})
        except (TypeError, ValueError):
            return 15
        if abs(approx - exact) <= 1e-4 * abs(exact) + 1e-9 * scale:
            return digits
    return 15


class _NumberMixin:
    """Print symbols as their values and function applications as theirs; everything else as usual."""

    def _print(self, expr, **kwargs):
        vals = self._settings["values"]
        if isinstance(expr, sp.Symbol) and expr in vals:
            return self._num(vals[expr])
        if isinstance(expr, (sp.Function, sigma_prime)) and expr.free_symbols and expr.free_symbols <= set(vals):
            num = self._num(numeric_value(expr, vals))
            if kwargs.get("exp") is not None:  # LaTeX prints tanh(x)² as \tanh^{2}(x): keep the power
                return f"{num}^{{{kwargs['exp']}}}"
            return num
        return super()._print(expr, **kwargs)


class _LatexNumbers(_NumberMixin, _PositiveFirst, LatexPrinter):
    _default_settings = {**LatexPrinter._default_settings, "values": {}, "digits": 6}

    def _num(self, v: float) -> str:
        s = fmt_number(v, self._settings["digits"])
        return rf"\left({s}\right)" if v < 0 else s


class _StrNumbers(_NumberMixin, _PositiveFirst, StrPrinter):
    _default_settings = {**StrPrinter._default_settings, "values": {}, "digits": 6}

    def _num(self, v: float) -> str:
        s = fmt_number(v, self._settings["digits"])
        return f"({s})" if v < 0 else s


def with_numbers(e: sp.Expr, values: dict, tex: bool) -> str:
    digits = digits_needed(e, values)
    if tex:
        return _LatexNumbers({"values": values, "mul_symbol": "dot", "digits": digits}).doprint(e)
    return _StrNumbers({"values": values, "digits": digits}).doprint(e).replace("*", "·")


TEXT_TO_TEX = {  # the Unicode of the prose, as LaTeX that any engine (pdflatex too) takes in text mode
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
    "^": r"\^{}", "~": r"\~{}", "δ": r"$\delta$", "Δ": r"$\Delta$", "Σ": r"$\Sigma$", "Π": r"$\Pi$",
    "′": "$'$", "∂": r"$\partial$", "ℓ": r"$\ell$", "σ": r"$\sigma$", "η": r"$\eta$", "θ": r"$\theta$",
    "ρ": r"$\rho$", "ε": r"$\varepsilon$", "−": "-", "–": "--", "—": "---", "·": r"$\cdot$", "⊙": r"$\odot$",
    "∇": r"$\nabla$", "ᵀ": r"$^\top$", "ᴸ": "$^L$", "ˡ": "$^l$", "²": "$^2$", "⁴": "$^4$", "…": r"\ldots{}",
    "⋯": r"$\cdots$", "≠": r"$\neq$", "∈": r"$\in$", "‖": r"$\|$", "→": r"$\to$", "←": r"$\leftarrow$",
    "½": r"$\frac{1}{2}$", "⇒": r"$\Rightarrow$", "√": r"$\surd$", "≤": r"$\leq$", "≥": r"$\geq$", "×": r"$\times$",
    "\u0303": "", "’": "'", "“": "``", "”": "''", "α": r"$\alpha$", "ₐ": "$_a$", "ⁿ": "$^n$",
}


def tex_text(s: str) -> str:
    """Prose for LaTeX: $…$ kept as math, everything else escaped, its Unicode symbols written as LaTeX."""
    parts = s.split("$")
    for n in range(0, len(parts), 2):
        parts[n] = "".join(TEXT_TO_TEX.get(ch, ch) for ch in parts[n])
    return "$".join(parts)
