"""The functions of a derivation in SymPy: activations and their derivatives as displayed (σ′ whole, piecewise
ones by name with their cases), losses, the canonical pairs and the notations.

    sigma_prime(x)         σ′(x) = σ(x)(1 − σ(x)), printed σ′(x)
    named_prime(g)(x)      ReLU′(x), LReLU′(x), g_1′(x): kept whole; prime_definition gives the cases
    explicit(e)            every kept-whole derivative written out (for JSON and evaluation)
"""

from __future__ import annotations

import sympy as sp

from ..engine import formulas
from ..engine.formulas import sigma
from ..errors import DeltapropError

# --- the derivative of an activation, for display ----------------------------------------------------------------


class sigma_prime(sp.Function):
    """σ′(x) = σ(x)(1 − σ(x)), kept whole so that derivations read like the notes."""

    def _latex(self, printer, exp=None):
        base = rf"\sigma'\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"

    def _sympystr(self, printer):
        return f"σ′({printer._print(self.args[0])})"


class NamedPrime(sp.Function):
    """g′(x) of a piecewise activation (ReLU, leaky ReLU, a formula with max/abs/heaviside), kept whole; its
    cases are stated once next to the derivation (``definition``)."""

    label = "g"
    activation = None  # the engine's Activation: its df gives the value

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{{self.label}}}'\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"

    def _sympystr(self, printer):
        return f"{self.label}′({printer._print(self.args[0])})"


PRIMES: dict[str, type] = {}


def named_prime(g) -> type:
    if g.name not in PRIMES:
        label = {"relu": "ReLU", "leaky_relu": "LReLU"}.get(g.name, f"g_{len(PRIMES) + 1}")
        PRIMES[g.name] = type(f"prime_{len(PRIMES)}", (NamedPrime,), {"label": label, "activation": g})
    return PRIMES[g.name]


def prime_definition(cls: type, x: sp.Symbol) -> sp.Expr:
    """The cases of a NamedPrime, as a Piecewise in x."""
    g = cls.activation
    if g.name == "relu":
        return sp.Piecewise((1, x > 0), (0, True))
    if g.name == "leaky_relu":
        return sp.Piecewise((1, x > 0), (sp.Rational(1, 100), True))
    d = sp.diff(formulas.activation_expr(g.formula).subs(formulas.z, x), x)
    d = d.replace(sp.Heaviside, lambda u, *h: sp.Piecewise((1, u > 0), (0, True)))
    return sp.piecewise_fold(d.replace(sp.sign, lambda u: sp.Piecewise((1, u > 0), (-1, u < 0), (0, True))))


def explicit(expr: sp.Expr) -> sp.Expr:
    """σ′ and the named primes written out (JSON, evaluation): σ(x)(1 − σ(x)), Heaviside for the cases."""
    expr = expr.replace(sigma_prime, lambda x: sigma(x) * (1 - sigma(x)))
    for cls in list(PRIMES.values()):
        g = cls.activation
        if g.name == "relu":
            expr = expr.replace(cls, lambda x: sp.Heaviside(x, 0))
        elif g.name == "leaky_relu":
            expr = expr.replace(cls, lambda x: sp.Heaviside(x, 0) + sp.Heaviside(-x, 1) / 100)
        else:
            expr = expr.replace(cls, lambda x, g=g: sp.diff(formulas.activation_expr(g.formula), formulas.z)
                                .subs(formulas.z, x))
    return expr


sigma_prime_explicit = explicit  # the earlier name


REGISTRY = {
    "identity": lambda x: x, "sigmoid": sigma, "tanh": sp.tanh, "relu": lambda x: sp.Max(x, 0),
    "leaky_relu": lambda x: sp.Max(x, sp.Rational(1, 100) * x), "softplus": lambda x: sp.log(1 + sp.exp(x)),
    "square": lambda x: x**2,
}


def activation_expr(g, x: sp.Symbol) -> sp.Expr:
    if g.name in REGISTRY:
        return REGISTRY[g.name](x)
    if g.formula is None:
        raise DeltapropError(f"activation {g.name!r} has no formula to derive with")
    return formulas.activation_expr(g.formula).subs(formulas.z, x)


def activation_prime(g, x: sp.Symbol) -> sp.Expr:
    """g′(x) for display: σ′ whole for the logistic function, piecewise ones by name, the rest written out."""
    if g.name == "sigmoid":
        return sigma_prime(x)
    if g.name in ("relu", "leaky_relu") or (g.formula is not None and not formulas.is_analytic(
            formulas.activation_expr(g.formula))):
        return named_prime(g)(x)
    return sp.diff(activation_expr(g, x), x)


def loss_expr(loss) -> sp.Expr:
    if loss.formula is None:
        raise DeltapropError(f"loss {loss.name!r} has no formula to derive with")
    return formulas.parse(loss.formula, {"a": formulas.a, "t": formulas.t, "pi": sp.pi}, what="loss formula")


CANONICAL = {  # (output activation, loss): why δ = a − t
    ("identity", "quadratic"): "identity output with the quadratic loss: ∂ℓ/∂a = a − t and a′ = 1",
    ("sigmoid", "binary_cross_entropy"): "sigmoid output with binary cross-entropy (the Bernoulli likelihood): "
                                         "∂ℓ/∂a = (a − t)/(a(1 − a)) and σ′(z) = a(1 − a) cancel",
    ("softmax", "cross_entropy"): "softmax with cross-entropy (the categorical likelihood): the softmax "
                                  "Jacobian, output m by weighted input k, out_m(1[m = k] − out_k), times "
                                  "∂ℓ/∂out_m = −t_m/out_m, summed over m, is out_k Σ_m t_m − t_k = out_k − t_k "
                                  "for targets that sum to 1",
}

NOTATIONS = {
    # weighted input, activity, output activity, weight index order, description
    "nielsen": ("z", "a", "a", "ij", "z weighted input, a = σ(z) activity, x input, w_ij from i into j, δ = ∂L/∂z"),
    "bishop": ("a", "z", "y", "ji", "a weighted input, z = h(a) activity, y output, x input, w_ji from i into j "
                                    "(Bishop, seed 003)"),
    "exam": ("z", "x", "x", "ij", "z input current, x activity, w_ij from i into j (seed 004)"),
    "homework": ("z", "a", "a", "ij", "z weighted input, a = g(z) activity, x input, W_ij from i into j (seed 000)"),
}
