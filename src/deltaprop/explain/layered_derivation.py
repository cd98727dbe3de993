"""Worked solutions for layered networks: the network as one formula and as a recursion, the collapse to a linear
model, and backpropagation (δᴸ, the δˡ recursion, ∂C/∂W, ∂C/∂b) in index and matrix form, per sample and for a
batch, in the notation of each seed:

    nielsen   seed 002: z^l = w^l a^{l-1} + b^l, a^l = σ(z^l), w^l_jk from k (layer l−1) to j (layer l)
    bishop    seed 003: a^{(l)} = Σ_{i=0} w^{(l)}_ji z^{(l-1)}_i with z_0 = x_0 = 1 (the bias), z = h(a), y = z^{(L)}
    homework  seed 000: z^{(ℓ)}_j = Σ_i a^{(ℓ-1)}_i W^{(ℓ)}_ij + b^{(ℓ)}_j, a = g_ℓ(z), W_ij from i to j

The general equations are the same in every notation; only the letters and the index order change. With
weights and a sample (or a batch) every layer's vectors and matrices are also given in numbers, from the
engine's own forward and backward pass; the matrix formulas are applied to them here, so a test can hold the
displayed products against finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..engine import formulas
from ..engine.layered import Network
from ..errors import DeltapropError
from .functions import CANONICAL
from .numbers import tex_text

PARTS = ("all", "formula", "recursion", "linear", "delta", "gradients", "batch", "sgd")
GROUPS = {"backprop": ("delta", "gradients")}  # a name for several parts
MAX_NESTED = 6  # the network as one nested formula is written for up to this many layers


@dataclass(frozen=True)
class Letters:
    zin: str  # weighted input
    act: str  # activity
    out: str  # network output
    w: str  # weight letter
    h: str  # activation function
    C: str  # cost of the batch
    c: str  # cost of one sample
    t: str  # target
    sup: str  # layer superscript template
    ij: bool  # True: w_ij from i (layer below) to j
    bias_in_sum: bool  # Bishop: the bias is w_j0 with x_0 = 1
    name: str


LETTERS = {
    "nielsen": Letters("z", "a", "a", "w", r"\sigma", "C", "C_x", "y", "{l}", False, False,
                       "Nielsen (seed 002): w_jk from k in layer l−1 to j in layer l, y the target"),
    "bishop": Letters("a", "z", "y", "w", "h", "E", "E_n", "t", "{(l)}", False, True,
                      "Bishop (seed 003): a weighted input, z = h(a) activity, y output, t target, "
                      "w_ji from i to j, the bias as w_j0 with x_0 = 1"),
    "homework": Letters("z", "a", "a", "W", "g", "C", "c", "t", "{(l)}", True, False,
                        "the homework (seed 000): W_ij from neuron i in layer ℓ−1 to j in layer ℓ, a = g_ℓ(z)"),
}
LETTERS["exam"] = LETTERS["homework"]  # the exam's convention, w_ij from i to j


def _sup(L: Letters, layer: str) -> str:
    return "^{" + L.sup.strip("{}").replace("l", layer) + "}"


class LayeredDeriver:
    """The worked solution of a layered network; X, T optional (a sample, or a batch of N rows)."""

    def __init__(self, net: Network, X=None, T=None, notation: str = "nielsen", symbolic_only: bool = False):
        if notation not in LETTERS:
            raise DeltapropError(f"unknown notation {notation!r}; choose from {', '.join(LETTERS)}")
        self.net, self.L = net, LETTERS[notation]
        self.notation = notation
        self.symbolic_only = symbolic_only
        self.X = None if X is None else np.atleast_2d(np.asarray(X, float))
        self.T = None if T is None else np.atleast_2d(np.asarray(T, float))
        self.out: list = []

    # --- output helpers ---
    def text(self, s: str) -> None:
        self.out.append(("text", s))

    def eq(self, tex: str, txt: str) -> None:
        self.out.append(("eq", tex, txt))

    def head(self, s: str) -> None:
        self.out.append(("head", s))

    def matrix(self, M: np.ndarray) -> tuple[str, str]:
        M = np.atleast_2d(M)
        f = lambda v: f"{v:.6g}"  # noqa: E731
        tex = r"\begin{bmatrix} " + r" \\ ".join(" & ".join(f(v) for v in row) for row in M) + r" \end{bmatrix}"
        txt = "[" + "; ".join(" ".join(f(v) for v in row) for row in M) + "]"
        return tex, txt

    # --- the parts ---
    def build(self, part: str = "all") -> list:
        if part not in PARTS and part not in GROUPS:
            raise DeltapropError(f"unknown part {part!r}; choose from {', '.join(PARTS + tuple(GROUPS))}")
        L = self.L
        self.part = part
        sizes = self.net.sizes
        acts = ", ".join(g.name for g in self.net.activations)
        self.text(f"Network {'-'.join(map(str, sizes))} (activations {acts}; loss {self.net.loss.name}, "
                  f"batch cost the {self.net.reduction} over the samples). Notation: {L.name}.")
        for name in PARTS[1:]:
            if part in ("all", name) or name in GROUPS.get(part, ()):
                getattr(self, f"part_{name}")()
        return self.out

    def part_formula(self) -> None:
        """Seed 003 (a), (b): y as one formula of x, the z's and a's eliminated."""
        L, n = self.L, self.net.L
        self.head("The network as one formula (seed 003 a, b)")
        if n > MAX_NESTED:
            self.text(f"With {n} layers the one formula nests {n} activations, too deep to read; the recursion "
                      "writes the same network, layer by layer:")
            if self.part == "formula":  # otherwise it follows anyway
                self.part_recursion()
            return
        idx = ["j", "p", "q", "r", "s", "u", "v"][:n] + ["i"]
        idx = idx[:n] + ["l"]
        inner_tex = "x_{" + idx[n] + "}"
        inner_txt = f"x_{idx[n]}"
        for layer in range(1, n + 1):
            j, i = idx[n - layer], idx[n - layer + 1]
            w_tex = f"{L.w}_{{{j}{i}}}^{{({layer})}}" if not L.ij else f"{L.w}_{{{i}{j}}}^{{({layer})}}"
            w_txt = f"{L.w}{'_' + j + i if not L.ij else '_' + i + j}^({layer})"
            lo = "=0" if L.bias_in_sum else ""
            bias_tex = "" if L.bias_in_sum else f" + b_{{{j}}}^{{({layer})}}"
            bias_txt = "" if L.bias_in_sum else f" + b_{j}^({layer})"
            s_tex = rf"\sum_{{{i}{lo}}} {w_tex} {inner_tex}{bias_tex}"
            s_txt = f"Σ_{i}{lo} {w_txt} {inner_txt}{bias_txt}"
            inner_tex = rf"{L.h}_{{{layer}}}\left({s_tex}\right)"
            inner_txt = f"{_h_text(L)}_{layer}({s_txt})"
        if L.bias_in_sum:
            self.text("The bias is the weight w_j0 from an input x_0 = 1 (and z_0 = 1 in every layer), so each sum "
                      "starts at 0.")
        self.eq(f"{L.out}_{{j}} = {inner_tex}", f"{L.out}_j = {inner_txt}")

    def part_recursion(self) -> None:
        """Seed 003 (c): the L-layer network as a recursion."""
        L = self.L
        self.head("The network as a recursion (seed 003 c)")
        zin, act = L.zin, L.act
        lo = "=0" if L.bias_in_sum else "=1"
        w = (f"{L.w}_{{ij}}^{{(l)}}" if L.ij else f"{L.w}_{{ji}}^{{(l)}}")
        w_txt = f"{L.w}_ij^(l)" if L.ij else f"{L.w}_ji^(l)"
        bias = "" if L.bias_in_sum else " + b_j^{(l)}"
        self.eq(f"{act}_i^{{(0)}} = x_i", f"{act}_i^(0) = x_i" + ("   (and " + act + "_0^(l) = 1: the bias)"
                                                                  if L.bias_in_sum else ""))
        self.eq(rf"{zin}_j^{{(l)}} = \sum_{{i{lo}}}^{{n_{{l-1}}}} {w} {act}_i^{{(l-1)}}{bias}, \quad l = 1, \dots, L",
                f"{zin}_j^(l) = Σ_i{lo}..n_(l−1) {w_txt} {act}_i^(l−1){bias.replace('{', '').replace('}', '')},"
                "   l = 1, …, L")
        h = "h" if L.h == "h" else ("\\sigma" if L.h == r"\sigma" else "g")
        self.eq(rf"{act}_j^{{(l)}} = {h}_l\left({zin}_j^{{(l)}}\right), \quad l = 1, \dots, L",
                f"{act}_j^(l) = {h.strip(chr(92)).replace('sigma', 'σ')}_l({zin}_j^(l)),   l = 1, …, L")
        self.eq(f"{L.out}_j = {act}_j^{{(L)}}", f"{L.out}_j = {act}_j^(L)")
        self.text(f"Here L = {self.net.L}, with layer sizes n_0, …, n_L = {', '.join(map(str, self.net.sizes))}.")

    def part_linear(self) -> None:
        """Seed 003 (d): without the non-linearities the network is one linear map of x."""
        self.head("Without non-linearities the model is linear (seed 003 d)")
        self.text("With every activation the identity, each layer is one affine map of the one below, "
                  "v^(l) = W^(l) v^(l−1) + b^(l) (v^(0) = x, W^(l) the layer's weights from below to above); "
                  "substituting each layer into the next:")
        self.eq(r"y = W^{(L)}\left(\cdots W^{(2)}\left(W^{(1)} x + b^{(1)}\right) + b^{(2)} \cdots\right) + b^{(L)}"
                r" = \tilde W x + \tilde b, \quad \tilde W = W^{(L)} \cdots W^{(1)}, \quad"
                r" \tilde b = \sum_{l=1}^{L} W^{(L)} \cdots W^{(l+1)} b^{(l)}",
                "y = W^(L)(⋯W^(2)(W^(1) x + b^(1)) + b^(2)⋯) + b^(L) = W̃ x + b̃,   W̃ = W^(L)⋯W^(1),   "
                "b̃ = Σ_l W^(L)⋯W^(l+1) b^(l)")
        self.text("a product of matrices is one matrix, so y is linear in x: the model collapses to a linear model "
                  "and cannot fit a non-linear relation between x and y, however many layers it has.")
        if self.symbolic_only:
            return
        Wt = np.eye(self.net.sizes[0])
        bt = np.zeros(self.net.sizes[0])
        for W, b in zip(self.net.W, self.net.b):
            Wt, bt = W @ Wt, W @ bt + b
        mt, mb = self.matrix(Wt), self.matrix(bt[:, None])
        self.text("For this network's weights (its activations replaced by the identity):")
        self.eq(rf"\tilde W = {mt[0]}, \quad \tilde b = {mb[0]}", f"W̃ = {mt[1]},   b̃ = {mb[1]}")
        if self.X is not None:
            x = self.X[0]
            lin = Network(self.net.sizes, ["identity"] * self.net.L, "quadratic", W=self.net.W, b=self.net.b)
            y = lin.predict(self.X[:1])[0] if hasattr(lin, "predict") else lin.forward(self.X[:1]).a[-1][0]
            my, mx = self.matrix((Wt @ x + bt)[:, None]), self.matrix(x[:, None])
            self.eq(rf"\tilde W x + \tilde b = {my[0]} \text{{ at }} x = {mx[0]}",
                    f"W̃ x + b̃ = {my[1]} at x = {mx[1]}")
            self.text("the same as the layers one by one with identity activations: "
                      + self.matrix(np.asarray(y)[:, None])[1] + ".")

    def delta_L(self) -> tuple[list[tuple[str, str]], str]:
        """δᴸ for this output activation and loss: [(latex, text)] and the reason."""
        L, g, loss = self.L, self.net.activations[-1], self.net.loss
        a, z, t, c = L.act if L.out == L.act else L.out, L.zin, L.t, L.c
        key = (g.name, loss.name)
        dz = rf"\delta_j^{{(L)}} = \frac{{\partial {c}}}{{\partial {z}_j^{{(L)}}}}"
        dz_t = f"δ_j^(L) = ∂{c}/∂{z}_j^(L)"
        aL = f"{a}_j" if L.out != L.act else f"{a}_j^{{(L)}}"
        aL_t = f"{a}_j" if L.out != L.act else f"{a}_j^(L)"
        if key == ("softmax", "cross_entropy"):  # seed 003 (i), finished: in the logits
            o, zz = (L.out if L.out != L.act else L.act), z
            return [(rf"{c} = -\sum_k {t}_k \log {o}_k = -\sum_k {t}_k {zz}_k^{{(L)}} + \Big(\sum_k {t}_k\Big)"
                     rf" \log \sum_k e^{{{zz}_k^{{(L)}}}} = -\sum_k {t}_k {zz}_k^{{(L)}} + \log \sum_k e^{{{zz}_k^{{(L)}}}}",
                     f"{c} = −Σ_k {t}_k log {o}_k = −Σ_k {t}_k {zz}_k^(L) + (Σ_k {t}_k) log Σ_k e^{zz}_k^(L) "
                     f"= −Σ_k {t}_k {zz}_k^(L) + log Σ_k e^{zz}_k^(L)   (Σ_k {t}_k = 1)"),
                    (rf"\frac{{\partial}}{{\partial {zz}_j^{{(L)}}}} \log \sum_k e^{{{zz}_k^{{(L)}}}} = "
                     rf"\frac{{e^{{{zz}_j^{{(L)}}}}}}{{\sum_k e^{{{zz}_k^{{(L)}}}}}} = {o}_j",
                     f"∂/∂{zz}_j^(L) log Σ_k e^{zz}_k^(L) = e^{zz}_j^(L) / Σ_k e^{zz}_k^(L) = {o}_j"),
                    (f"{dz} = {aL} - {t}_j", f"{dz_t} = {aL_t} − {t}_j")], \
                ("a canonical pair: " + CANONICAL[key] + ". Seed 003's own answer to (i) stops before this: it "
                 "puts ∂a/∂w into the loss and differentiates with respect to the weights")
        if key in CANONICAL:
            return [(f"{dz} = {aL} - {t}_j", f"{dz_t} = {aL_t} − {t}_j")], "a canonical pair: " + CANONICAL[key]
        grad = self.loss_gradient("k" if not g.elementwise else "j")
        if not g.elementwise:  # softmax with a loss that is not its own: the Jacobian
            return [(rf"{dz} = \sum_k \frac{{\partial {c}}}{{\partial {a}_k}} \frac{{\partial {a}_k}}{{\partial {z}_j}}"
                     rf" = {a}_j \Big( \frac{{\partial {c}}}{{\partial {a}_j}} - \sum_k {a}_k "
                     rf"\frac{{\partial {c}}}{{\partial {a}_k}} \Big), \quad \frac{{\partial {c}}}{{\partial {a}_k}}"
                     f" = {grad[0]}",
                     f"{dz_t} = Σ_k ∂{c}/∂{a}_k · ∂{a}_k/∂{z}_j = {a}_j(∂{c}/∂{a}_j − Σ_k {a}_k ∂{c}/∂{a}_k),   "
                     f"∂{c}/∂{a}_k = {grad[1]}"),
                    (rf"\delta^{{(L)}} = J^\top \nabla_{{{a}}} {c}, \quad J_{{kj}} = \frac{{\partial {a}_k}}"
                     rf"{{\partial {z}_j}} = {a}_k (1[k = j] - {a}_j)",
                     f"δ^(L) = Jᵀ ∇_{a} {c},   J_kj = ∂{a}_k/∂{z}_j = {a}_k(1[k=j] − {a}_j)")], \
                "softmax couples the outputs, so δᴸ is the Jacobian times ∇ₐc, not ∇ₐc ⊙ σ′(zᴸ)"
        h = "h" if L.h == "h" else ("\\sigma" if L.h == r"\sigma" else "g")
        ht = {"h": "h", "g": "g"}.get(h, "σ")
        return [(rf"{dz} = \frac{{\partial {c}}}{{\partial {aL}}} {h}_L'\left({z}_j^{{(L)}}\right) = "
                 rf"\left({grad[0]}\right) {h}_L'\left({z}_j^{{(L)}}\right)",
                 f"{dz_t} = ∂{c}/∂{aL_t} · {ht}_L′({z}_j^(L)) = ({grad[1]}) {ht}_L′({z}_j^(L))"),
                (rf"\delta^{{(L)}} = \nabla_{{{a}}} {c} \odot {h}_L'\left({z}^{{(L)}}\right)",
                 f"δ^(L) = ∇_{a} {c} ⊙ {ht}_L′({z}^(L))")], \
            f"the output activation acts on each unit alone, so ∂{a}_k/∂{z}_j = 0 for k ≠ j and only k = j is left"

    def loss_gradient(self, i: str = "j") -> tuple[str, str]:
        """∂c/∂a_i from the loss formula, by SymPy, in this notation's letters."""
        L = self.L
        if self.net.loss.formula is None:
            return (rf"\partial c / \partial a_{i}", f"∂c/∂a_{i}")
        a_name = L.out if L.out != L.act else L.act
        e = sp.diff(formulas.parse(self.net.loss.formula, {"a": formulas.a, "t": formulas.t}), formulas.a)
        e = sp.simplify(e).subs({formulas.a: sp.Symbol(f"{a_name}_{i}"), formulas.t: sp.Symbol(f"{L.t}_{i}")})
        return sp.latex(e), sp.sstr(e)

    def part_delta(self) -> None:
        """Seed 000 (a), seed 002 (equations 1, 2), seed 003 (i, j, k): δᴸ and the δˡ recursion."""
        L = self.L
        z, a, w, c = L.zin, L.act, L.w, L.c
        h = "h" if L.h == "h" else ("\\sigma" if L.h == r"\sigma" else "g")
        ht = {"h": "h", "g": "g"}.get(h, "σ")
        self.head("Backpropagation, one sample: the δ's (index form, then matrix form)")
        self.text(f"δ_j^(l) = ∂{c}/∂{z}_j^(l), the derivative of one sample's cost {c} with respect to a weighted "
                  f"input.")
        rules, why = self.delta_L()
        for tex, txt in rules:
            self.eq(tex, txt)
        self.text(f"Output layer: {why}.")
        wkj = f"{w}_{{jk}}^{{(l+1)}}" if L.ij else f"{w}_{{kj}}^{{(l+1)}}"
        wkj_t = f"{w}_jk^(l+1)" if L.ij else f"{w}_kj^(l+1)"
        self.text(f"Hidden layers: {z}_k^(l+1) depends on {z}_j^(l) through {a}_j^(l) = {ht}_l({z}_j^(l)) and the "
                  f"weight {wkj_t}, so the chain rule sums over the units k of layer l + 1:")
        self.eq(rf"\delta_j^{{(l)}} = \sum_k \frac{{\partial {c}}}{{\partial {z}_k^{{(l+1)}}}}"
                rf"\frac{{\partial {z}_k^{{(l+1)}}}}{{\partial {z}_j^{{(l)}}}} = {h}_l'\left({z}_j^{{(l)}}\right)"
                rf" \sum_k {wkj} \delta_k^{{(l+1)}}, \quad l < L",
                f"δ_j^(l) = Σ_k ∂{c}/∂{z}_k^(l+1) · ∂{z}_k^(l+1)/∂{z}_j^(l) = {ht}_l′({z}_j^(l)) Σ_k {wkj_t} "
                f"δ_k^(l+1),   l < L")
        if L.ij:
            self.eq(rf"\delta^{{(l)}} = \left(W^{{(l+1)}} \delta^{{(l+1)}}\right) \odot {h}_l'\left({z}^{{(l)}}\right)",
                    f"δ^(l) = (W^(l+1) δ^(l+1)) ⊙ {ht}_l′({z}^(l))   (W_ij from i to j: W_jk = (Wᵀ)_kj, "
                    "the seed's W_kj^T)")
        else:
            self.eq(rf"\delta^{{(l)}} = \left(({w}^{{(l+1)}})^\top \delta^{{(l+1)}}\right) \odot "
                    rf"{h}_l'\left({z}^{{(l)}}\right)",
                    f"δ^(l) = (({w}^(l+1))ᵀ δ^(l+1)) ⊙ {ht}_l′({z}^(l))")
        if not self.symbolic_only and self.X is not None:
            self.numbers(self.X[:1], self.T[:1], one=True, grads=False)

    def part_gradients(self) -> None:
        """Seed 000 (b), seed 002 (equations 3, 4), seed 003 (j): ∂c/∂W and ∂c/∂b."""
        L = self.L
        z, a, w, c = L.zin, L.act, L.w, L.c
        self.head("Backpropagation, one sample: the gradients (index form, then matrix form)")
        prev = f"{a}_i^{{(l-1)}}" if L.ij else f"{a}_{{{'i' if L.bias_in_sum else 'k'}}}^{{(l-1)}}"
        wji = f"{w}_{{ij}}^{{(l)}}" if L.ij else (f"{w}_{{ji}}^{{(l)}}" if L.bias_in_sum else f"{w}_{{jk}}^{{(l)}}")
        self.text(f"Weights and biases: {z}_j^(l) is linear in its own weights and bias: ∂{z}_j^(l)/∂w is the "
                  f"activity the weight multiplies, and ∂{z}_j^(l)/∂b_j = 1:")
        self.eq(rf"\frac{{\partial {c}}}{{\partial {wji}}} = \delta_j^{{(l)}} {prev}",
                f"∂{c}/∂{_plain(wji)} = δ_j^(l) {_plain(prev)}")
        if L.bias_in_sum:
            self.eq(rf"\frac{{\partial {c}}}{{\partial {w}_{{j0}}^{{(l)}}}} = \delta_j^{{(l)}} \cdot 1",
                    f"∂{c}/∂{w}_j0^(l) = δ_j^(l) · 1   (the bias, x_0 = {a}_0 = 1)")
        else:
            self.eq(rf"\frac{{\partial {c}}}{{\partial b_j^{{(l)}}}} = \delta_j^{{(l)}}",
                    f"∂{c}/∂b_j^(l) = δ_j^(l)" + ("   (seed 000 writes ∂c/∂b_i: the index is j)" if L.ij else ""))
        if L.ij:
            self.eq(rf"\frac{{\partial {c}}}{{\partial W^{{(l)}}}} = {a}^{{(l-1)}} (\delta^{{(l)}})^\top, \quad "
                    rf"\frac{{\partial {c}}}{{\partial b^{{(l)}}}} = \delta^{{(l)}}",
                    f"∂{c}/∂W^(l) = {a}^(l−1) (δ^(l))ᵀ,   ∂{c}/∂b^(l) = δ^(l)")
        else:
            self.eq(rf"\frac{{\partial {c}}}{{\partial {w}^{{(l)}}}} = \delta^{{(l)}} ({a}^{{(l-1)}})^\top, \quad "
                    rf"\frac{{\partial {c}}}{{\partial b^{{(l)}}}} = \delta^{{(l)}}",
                    f"∂{c}/∂{w}^(l) = δ^(l) ({a}^(l−1))ᵀ,   ∂{c}/∂b^(l) = δ^(l)"
                    + ("   (with the bias column: z^(l−1) extended by z_0 = 1)" if L.bias_in_sum else ""))
        if not self.symbolic_only and self.X is not None:
            self.numbers(self.X[:1], self.T[:1], one=True)

    def part_batch(self) -> None:
        """Seed 000 (3), seed 002, seed 003 (l): a data set of N samples."""
        L = self.L
        z, a, w, C = L.zin, L.act, L.w, L.C
        mean = self.net.reduction == "mean"
        s_tex, s_txt = (r"\frac{1}{N}", "(1/N) ") if mean else ("", "")
        self.head("A batch of N samples")
        cn = {"nielsen": ("C_{x_n}", "C_(x_n)"), "bishop": ("E_n", "E_n")}.get(self.notation, ("c(x_n)", "c(x_n)"))
        self.eq(rf"{C} = {s_tex}\sum_{{n=1}}^N {cn[0]}", f"{C} = {s_txt}Σ_n {cn[1]}"
                + ("   (the mean, as in seeds 000 and 002)" if mean else "   (the sum, as in seed 003)"))
        self.text("δ stays per sample: δ_nj^(l) for sample n, by the same rules; the weights are shared by every "
                  "sample, so only the gradient sums over n (seed 003's answer to (l) puts the sum inside δ and "
                  "gives the weights an index n; both are wrong).")
        src = "k" if self.notation == "nielsen" else "i"
        wji = f"{w}_{{ij}}^{{(l)}}" if L.ij else f"{w}_{{j{src}}}^{{(l)}}"
        prev = f"{a}_{{n{src}}}^{{(l-1)}}"
        wkj = f"{w}_{{jk}}^{{(l+1)}}" if L.ij else f"{w}_{{kj}}^{{(l+1)}}"
        h = "h" if L.h == "h" else ("\\sigma" if L.h == r"\sigma" else "g")
        self.eq(rf"\frac{{\partial {C}}}{{\partial {wji}}} = {s_tex}\sum_{{n=1}}^N \delta_{{nj}}^{{(l)}} {prev}, "
                rf"\quad \frac{{\partial {C}}}{{\partial b_j^{{(l)}}}} = {s_tex}\sum_{{n=1}}^N \delta_{{nj}}^{{(l)}}",
                f"∂{C}/∂{_plain(wji)} = {s_txt}Σ_n δ_nj^(l) {_plain(prev)},   ∂{C}/∂b_j^(l) = {s_txt}Σ_n δ_nj^(l)")
        self.eq(rf"\delta_{{nj}}^{{(l)}} = {h}_l'\left({z}_{{nj}}^{{(l)}}\right) \sum_k {wkj} \delta_{{nk}}^{{(l+1)}}",
                f"δ_nj^(l) = {h.strip(chr(92)).replace('sigma', 'σ')}_l′({z}_nj^(l)) Σ_k {_plain(wkj)} δ_nk^(l+1)")
        mat = (rf"{A_(L)}^{{(l-1)}} \Delta^{{(l)\top}}" if L.ij else rf"\Delta^{{(l)}} ({A_(L)}^{{(l-1)}})^\top")
        self.eq(rf"\frac{{\partial {C}}}{{\partial {w if not L.ij else 'W'}^{{(l)}}}} = {s_tex}{mat}, \quad "
                rf"\frac{{\partial {C}}}{{\partial b^{{(l)}}}} = {s_tex}\Delta^{{(l)}} \mathbf{{1}}",
                f"∂{C}/∂{w}^(l) = {s_txt}" + ("A^(l−1) Δ^(l)ᵀ" if L.ij else "Δ^(l) (A^(l−1))ᵀ")
                + f",   ∂{C}/∂b^(l) = {s_txt}Δ^(l) 1   (Δ, A: one column per sample)")
        if not self.symbolic_only and self.X is not None and len(self.X) > 1:
            self.numbers(self.X, self.T, one=False)

    def part_sgd(self) -> None:
        """Seed 003 (h): a random subset's gradient is on average proportional to the full gradient."""
        self.head("Stochastic gradient descent (seed 003 h)")
        self.eq(r"\mathbb{E}_B\Big[\frac{1}{|B|}\sum_{n \in B} \nabla E_n\Big] = \sum_{n=1}^N P(n \in B)"
                r"\frac{1}{|B|} \nabla E_n = \sum_{n=1}^N \frac{|B|}{N}\frac{1}{|B|}\nabla E_n"
                r" = \frac{1}{N} \nabla E",
                "E_B[(1/|B|) Σ_{n∈B} ∇E_n] = Σ_n P(n ∈ B) (1/|B|) ∇E_n = Σ_n (|B|/N)(1/|B|) ∇E_n = (1/N) ∇E")
        self.text("for B drawn uniformly among the subsets of size |B| (each sample is in B with probability "
                  "|B|/N): the subset's mean gradient is on average the full gradient E = Σ_n E_n divided by N.")
        if self.symbolic_only:
            return
        from itertools import combinations

        X, T, where = self.X, self.T, "this batch"
        if X is None or not 2 <= len(X) <= 8:  # a small batch of its own, the same every time
            rng = np.random.default_rng(0)
            X = rng.standard_normal((6, self.net.sizes[0]))
            k = self.net.sizes[-1]
            T = np.eye(k)[rng.integers(0, k, 6)] if self.net.activations[-1].name == "softmax" else \
                rng.uniform(0.1, 0.9, (6, k))
            where = "a batch drawn with seed 0"
        N, B = len(X), max(1, len(X) // 2)
        per = [self._grads(X[n:n + 1], T[n:n + 1]) for n in range(N)]
        full = sum(per)
        avg = np.mean([np.mean([per[n] for n in S], axis=0) for S in combinations(range(N), B)], axis=0)
        self.text(f"Checked on {where}, N = {N}, every subset of |B| = {B}: the mean over subsets of the "
                  f"subset's mean gradient is {_vec(avg)} and (1/N) Σ_n ∇E_n is {_vec(full / N)} "
                  f"(largest difference {np.max(np.abs(avg - full / N)):.1e}).")

    def _grads(self, X, T) -> np.ndarray:
        g = self.net.loss_and_grads(X, T)
        return np.concatenate([p.ravel() for pair in zip(g.W, g.b) for p in pair])

    def numbers(self, X, T, one: bool, grads: bool = True) -> None:
        """The engine's z, a, δ per layer and the matrix formulas applied to them."""
        L, net = self.L, self.net
        tr = net.forward(X)
        g = net.backward(tr, T)
        N = X.shape[0]
        s = 1.0 / N if net.reduction == "mean" else 1.0
        self.text(("At the sample" if one else f"For the batch of N = {N} (one column per sample)")
                  + ", from the engine's forward and backward pass:")
        for layer in range(net.L, 0, -1):
            d = g.delta[layer - 1].T
            prev = (X if layer == 1 else tr.a[layer - 2]).T
            md, mp = self.matrix(d), self.matrix(prev)
            dl, al = ("δ", L.act) if one else ("Δ", L.act.upper())  # a batch: one column per sample
            if L.ij:
                GW = s * prev @ d.T
                lhs_t, rhs = f"{al}^(l−1) {dl}ᵀ", (mp, md)
            else:
                GW = s * d @ prev.T
                lhs_t, rhs = f"{dl} {al}ᵀ", (md, mp)
            mg = self.matrix(GW)
            mb = self.matrix((s * d.sum(axis=1))[:, None])
            sc = ("" if s == 1 else r"\frac{1}{N}", "" if s == 1 else "(1/N) ")
            self.eq(rf"\delta^{{({layer})}} = {md[0]}", f"δ^({layer}) = {md[1]}")
            if not grads:
                continue
            Wn = "W" if L.ij else L.w
            op = (rf"{rhs[0][0]} {rhs[1][0]}^\top")
            self.eq(rf"\frac{{\partial {L.C if not one else L.c}}}{{\partial {Wn}^{{({layer})}}}} = {sc[0]}{op}"
                    rf" = {mg[0]}, \quad \frac{{\partial {L.C if not one else L.c}}}{{\partial b^{{({layer})}}}}"
                    rf" = {mb[0]}",
                    f"∂{L.C if not one else L.c}/∂{Wn}^({layer}) = {sc[1]}{lhs_t} = {mg[1]},   ∂/∂b^({layer}) = {mb[1]}")
        if grads:
            self.text(f"batch cost {L.C} = {g.cost:.10g}")


def _h_text(L: Letters) -> str:
    return {"h": "h", "g": "g"}.get(L.h, "σ")


def A_(L: Letters) -> str:
    return "Z" if L.act == "z" else "A"


def _plain(tex: str) -> str:
    return tex.replace("{", "").replace("}", "").replace("^(", "^(")


def _vec(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.6g}" for x in v[:6]) + (", …]" if len(v) > 6 else "]")


def render(items: list, fmt: str) -> str:
    out = []
    for item in items:
        kind = item[0]
        if fmt == "text":
            out.append(f"\n{item[1]}" if kind == "head" else (item[1] if kind == "text" else f"  {item[2]}"))
        elif fmt == "markdown":
            out += [f"**{item[1]}.**" if kind == "head" else (item[1] if kind == "text" else f"$$ {item[1]} $$"), ""]
        else:
            out.append(rf"\paragraph{{{tex_text(item[1])}.}}" if kind == "head" else
                       (tex_text(item[1]) if kind == "text" else rf"\[ {item[1]} \]"))
    return "\n".join(out).strip() + "\n"


def parse_layers(text: str) -> list[int]:
    """'2-3-1' -> [2, 3, 1]."""
    try:
        sizes = [int(p) for p in text.replace(",", "-").split("-")]
    except ValueError:
        raise DeltapropError(f"--layers must be sizes joined by '-', e.g. 2-3-1; got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1 or max(sizes) > 10_000 or len(sizes) > 100:
        raise DeltapropError(f"--layers needs 2 to 100 sizes between 1 and 10000, e.g. 2-3-1; got {text!r}")
    return sizes
