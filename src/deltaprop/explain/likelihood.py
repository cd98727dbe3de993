"""From a likelihood to a loss (seed 003, exercises e, f, g, i, k and l), each result checked by SymPy.

Bishop's notation as in seed 003: a the weighted input of an output unit, y = h(a) its output, t the target.
E = −log p(t | y) per sample; δ = ∂E/∂a for the output activation that makes it simple (the canonical link).
Every step is given twice: LaTeX (``steps``, for markdown and LaTeX) and plain text (``text_steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .. import checks
from ..engine.formulas import sigma
from ..errors import DeltapropError

ya, yt, ys2 = sp.symbols("a t sigma2", real=True)
yy = sp.Symbol("y", real=True)

LIKELIHOODS = ("gaussian", "bernoulli", "categorical", "poisson", "exponential")


@dataclass
class LikelihoodDerivation:
    name: str
    title: str
    steps: list[str]  # LaTeX, one equation or sentence per step
    loss: sp.Expr  # E per sample, in y and t (categorical: −t_k log y_k, summed over k)
    activation: str  # the output activation y = h(a) that makes δ simple (the canonical link)
    delta: sp.Expr  # δ = ∂E/∂a in y and t
    verified: bool  # SymPy: diff(E(h(a)), a) − δ simplifies to 0
    note: str = ""
    text_steps: list[str] = field(default_factory=list)  # the same steps in plain text


def _check(E_of_a: sp.Expr, a_sym, delta_of_a: sp.Expr) -> bool:
    diff = sp.diff(E_of_a, a_sym) - delta_of_a
    return sp.simplify(diff.rewrite(sp.exp)) == 0


def _gaussian() -> LikelihoodDerivation:
    y, t, a, s2 = yy, yt, ya, ys2
    p = sp.exp(-(t - y) ** 2 / (2 * s2)) / sp.sqrt(2 * sp.pi * s2)
    E = sp.expand_log(-sp.log(p), force=True)
    delta = (y - t) / s2
    ok = _check(E.subs(y, a), a, delta.subs(y, a))
    # exercise f: the loss over the data set, E_D = ND/2 log 2πσ² + S/(2σ²) with S = Σ‖y − t‖²; its minimum in σ²
    N, D, S = sp.symbols("N D S", positive=True)
    s2p = sp.Symbol("sigma2", positive=True)
    E_D = N * D / 2 * sp.log(2 * sp.pi * s2p) + S / (2 * s2p)
    ok = ok and sp.solve(sp.diff(E_D, s2p), s2p) == [S / (N * D)]
    steps = [r"p(t \mid y) = \mathcal{N}(t \mid y, \sigma^2) = \frac{1}{\sqrt{2\pi\sigma^2}} e^{-(t-y)^2/2\sigma^2}",
             r"E = -\log p(t \mid y) = \frac{1}{2}\log 2\pi\sigma^2 + \frac{(y-t)^2}{2\sigma^2}",
             r"\text{over } N \text{ samples of } D \text{ outputs: } E(w) = \frac{ND}{2}\log 2\pi\sigma^2"
             r" + \frac{1}{2\sigma^2}\sum_n \lVert y(x_n) - t_n \rVert^2 \text{ (exercise e)}",
             r"\text{exercise f: } \sigma^2 \text{ only scales and shifts } \textstyle\sum_n \lVert y(x_n) - t_n\rVert^2"
             r"\text{, so the best } w \text{ is the same for every } \sigma^2;\;"
             r"\frac{\partial E}{\partial \sigma^2} = \frac{ND}{2\sigma^2} - \frac{\sum_n \lVert y(x_n)-t_n\rVert^2}"
             r"{2\sigma^4} = 0 \Rightarrow \sigma^2 = \frac{1}{ND}\sum_n \lVert y(x_n) - t_n \rVert^2",
             r"y = h(a) = a \text{ (identity output)}",
             r"\delta = \frac{\partial E}{\partial a} = \frac{\partial E}{\partial y}\frac{\partial y}{\partial a}"
             r" = \frac{y - t}{\sigma^2} \cdot 1 = \frac{y-t}{\sigma^2}"]
    text = ["p(t | y) = N(t | y, σ²) = exp(−(t − y)²/2σ²) / √(2πσ²)",
            "E = −log p(t | y) = ½ log 2πσ² + (y − t)²/2σ²",
            "over N samples of D outputs: E(w) = (ND/2) log 2πσ² + (1/2σ²) Σ_n ‖y(x_n) − t_n‖²  (exercise e)",
            "exercise f: σ² only scales and shifts Σ_n ‖y(x_n) − t_n‖², so the best w is the same for every σ²; "
            "∂E/∂σ² = ND/2σ² − Σ_n ‖y(x_n) − t_n‖²/2σ⁴ = 0 ⇒ σ² = (1/ND) Σ_n ‖y(x_n) − t_n‖²",
            "y = h(a) = a  (identity output)",
            "δ = ∂E/∂a = ∂E/∂y · ∂y/∂a = (y − t)/σ² · 1 = (y − t)/σ²"]
    return LikelihoodDerivation("gaussian", "Gaussian likelihood → sum of squares", steps, E, "identity", delta, ok,
                                "with σ² = 1 and the ½ kept: δ = y − t (exercise k); σ² does not move the optimum in w",
                                text)


def _bernoulli() -> LikelihoodDerivation:
    y, t, a = yy, yt, ya
    E = -(t * sp.log(y) + (1 - t) * sp.log(1 - y))
    ok = _check(E.subs(y, sigma(a)), a, sigma(a) - t)
    steps = [r"p(t \mid y) = y^{t} (1-y)^{1-t}, \quad t \in \{0, 1\}",
             r"E = -\log p = -t\log y - (1-t)\log(1-y) \text{ (binary cross-entropy)}",
             r"y = \sigma(a) = \frac{1}{1+e^{-a}}, \quad \frac{\partial y}{\partial a} = y(1-y)",
             r"\frac{\partial E}{\partial y} = -\frac{t}{y} + \frac{1-t}{1-y} = \frac{y-t}{y(1-y)}",
             r"\delta = \frac{\partial E}{\partial y}\frac{\partial y}{\partial a} = \frac{y-t}{y(1-y)}\,y(1-y) = y - t"]
    text = ["p(t | y) = y^t (1 − y)^(1−t),  t ∈ {0, 1}",
            "E = −log p = −t log y − (1 − t) log(1 − y)  (binary cross-entropy)",
            "y = σ(a) = 1/(1 + e^−a),  ∂y/∂a = y(1 − y)",
            "∂E/∂y = −t/y + (1 − t)/(1 − y) = (y − t)/(y(1 − y))",
            "δ = ∂E/∂y · ∂y/∂a = (y − t)/(y(1 − y)) · y(1 − y) = y − t"]
    return LikelihoodDerivation("bernoulli", "Bernoulli likelihood → binary cross-entropy", steps, E, "sigmoid",
                                y - t, ok, "", text)


def _categorical() -> LikelihoodDerivation:
    K = 3  # SymPy checks the general result on K = 3 classes; the steps hold for any K
    aa = sp.symbols("a1:4", real=True)
    tt = sp.symbols("t1:4", real=True)
    Z = sum(sp.exp(x) for x in aa)
    E3 = -sum(tk * (ak - sp.log(Z)) for tk, ak in zip(tt, aa))
    d1 = sp.diff(E3, aa[0]).subs(tt[2], 1 - tt[0] - tt[1])
    ok = sp.simplify(d1 - (sp.exp(aa[0]) / Z - tt[0])) == 0
    yk, tk = sp.Symbol("y_k"), sp.Symbol("t_k")
    steps = [r"p(\mathbf{t} \mid \mathbf{y}) = \prod_{k=1}^K y_k^{t_k}, \quad \mathbf{t} \text{ one-hot}",
             r"E = -\log p = -\sum_k t_k \log y_k \text{ (cross-entropy, exercise g)}",
             r"y_k = \frac{e^{a_k}}{\sum_j e^{a_j}} \Rightarrow \log y_k = a_k - \log\sum_j e^{a_j}",
             r"E = -\sum_k t_k a_k + \Big(\sum_k t_k\Big) \log \sum_j e^{a_j} = -\sum_k t_k a_k + \log\sum_j e^{a_j}"
             r" \quad \text{since } \sum_k t_k = 1",
             r"\frac{\partial}{\partial a_j} \log\sum_k e^{a_k} = \frac{e^{a_j}}{\sum_k e^{a_k}} = y_j",
             r"\delta_j = \frac{\partial E}{\partial a_j} = -t_j + y_j = y_j - t_j"]
    text = ["p(t | y) = Π_k y_k^t_k,  t one-hot",
            "E = −log p = −Σ_k t_k log y_k  (cross-entropy, exercise g)",
            "y_k = e^a_k / Σ_j e^a_j  ⇒  log y_k = a_k − log Σ_j e^a_j",
            "E = −Σ_k t_k a_k + (Σ_k t_k) log Σ_j e^a_j = −Σ_k t_k a_k + log Σ_j e^a_j   since Σ_k t_k = 1",
            "∂/∂a_j log Σ_k e^a_k = e^a_j / Σ_k e^a_k = y_j",
            "δ_j = ∂E/∂a_j = −t_j + y_j = y_j − t_j"]
    return LikelihoodDerivation("categorical", "Categorical likelihood → cross-entropy with softmax", steps,
                                -tk * sp.log(yk), "softmax", sp.Symbol("y_j") - sp.Symbol("t_j"), ok,
                                f"checked by SymPy for K = {K}; seed 003's answer to (i) stops before this "
                                "and differentiates with respect to the weights by mistake", text)


def _poisson() -> LikelihoodDerivation:
    y, t, a = yy, yt, ya
    E = y - t * sp.log(y) + sp.loggamma(t + 1)
    ok = _check(E.subs(y, sp.exp(a)), a, sp.exp(a) - t)
    steps = [r"p(t \mid y) = \frac{y^{t} e^{-y}}{t!}, \quad t \in \{0, 1, 2, \dots\}, \; y > 0 \text{ the rate}",
             r"E = -\log p = y - t\log y + \log t! \quad (\log t! \text{ does not depend on } w)",
             r"y = e^{a} \text{ (exp output, the canonical log link)}",
             r"\frac{\partial E}{\partial y} = 1 - \frac{t}{y}, \quad \frac{\partial y}{\partial a} = y",
             r"\delta = \Big(1 - \frac{t}{y}\Big) y = y - t"]
    text = ["p(t | y) = y^t e^−y / t!,  t ∈ {0, 1, 2, …},  y > 0 the rate",
            "E = −log p = y − t log y + log t!   (log t! does not depend on w)",
            "y = e^a  (exp output, the canonical log link)",
            "∂E/∂y = 1 − t/y,  ∂y/∂a = y",
            "δ = (1 − t/y) y = y − t"]
    return LikelihoodDerivation("poisson", "Poisson likelihood → Poisson negative log-likelihood", steps, E,
                                "exp(z)", y - t, ok,
                                "the Poisson deviance 2(t log(t/y) − (t − y)) is twice this loss minus its value "
                                "at y = t: the same gradient up to the factor 2", text)


def _exponential() -> LikelihoodDerivation:
    y, t, a = yy, yt, ya
    E = t / y + sp.log(y)
    ok = _check(E.subs(y, -1 / a), a, -1 / a - t)
    steps = [r"p(t \mid y) = \frac{1}{y} e^{-t/y}, \quad t > 0, \; y = \mathbb{E}[t] > 0 \text{ the mean}",
             r"E = -\log p = \frac{t}{y} + \log y",
             r"\text{exponential family: } p = \exp(\theta t + \log(-\theta)), \; \theta = -1/y \text{ natural parameter}",
             r"a = \theta \Rightarrow y = h(a) = -\frac{1}{a} \;(a < 0) \text{ (canonical link)}",
             r"\frac{\partial E}{\partial y} = \frac{y - t}{y^2}, \quad \frac{\partial y}{\partial a} = \frac{1}{a^2} = y^2",
             r"\delta = \frac{y-t}{y^2}\,y^2 = y - t"]
    text = ["p(t | y) = (1/y) e^(−t/y),  t > 0,  y = E[t] > 0 the mean",
            "E = −log p = t/y + log y",
            "exponential family: p = exp(θt + log(−θ)),  θ = −1/y the natural parameter",
            "a = θ  ⇒  y = h(a) = −1/a  (a < 0; the canonical link)",
            "∂E/∂y = (y − t)/y²,  ∂y/∂a = 1/a² = y²",
            "δ = (y − t)/y² · y² = y − t"]
    return LikelihoodDerivation(
        "exponential", "Exponential likelihood → t/y + log y", steps, E, "-1/z", y - t, ok,
        "E = t/y + log y is the Itakura–Saito distance of seed 004 plus log t + 1 (constant in w). "
        "The canonical link needs a < 0; the usual practical choice y = exp(a) gives δ = 1 − t/y instead", text)


_BUILDERS = {"gaussian": _gaussian, "bernoulli": _bernoulli, "categorical": _categorical, "poisson": _poisson,
             "exponential": _exponential}


def likelihood(name: str) -> LikelihoodDerivation:
    """The negative log-likelihood of one target as a loss, and δ = ∂E/∂a for its canonical output activation."""
    checks.text_arg(name, "likelihood: name")
    if name not in _BUILDERS:
        raise DeltapropError(f"unknown likelihood {name!r}; choose from {', '.join(LIKELIHOODS)}")
    return _BUILDERS[name]()


# seed 003, exercise (l): the rules for a data set of N samples. The seed's answer puts the sum over n inside δ
# and gives the weights an index n; weights are shared by all samples, and δ stays per sample.
BATCH_RULES = [
    r"E(w) = \sum_{n=1}^N E_n(w)",
    r"\frac{\partial E}{\partial w_{ji}^{(l)}} = \sum_{n=1}^N \delta_{nj}^{(l)} z_{ni}^{(l-1)}",
    r"\delta_{nj}^{(L)} = \frac{\partial E_n}{\partial a_{nj}^{(L)}} = y_{nj} - t_{nj} \text{ (canonical pairs)}",
    r"\delta_{nj}^{(l)} = h_l'(a_{nj}^{(l)}) \sum_{k} w_{kj}^{(l+1)} \delta_{nk}^{(l+1)}",
]
BATCH_RULES_TEXT = [
    "E(w) = Σ_n E_n(w)",
    "∂E/∂w_ji^(l) = Σ_n δ_nj^(l) z_ni^(l−1)",
    "δ_nj^(L) = ∂E_n/∂a_nj^(L) = y_nj − t_nj  (canonical pairs)",
    "δ_nj^(l) = h_l′(a_nj^(l)) Σ_k w_kj^(l+1) δ_nk^(l+1)",
]
