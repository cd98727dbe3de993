"""What a notebook shows for deltaprop's objects: short ``repr``s, HTML tables, drawings and worked solutions.

The classes themselves know nothing of this: the engine, explain and training wings sit below view/ and do not
import it. :func:`install`, called once by ``import deltaprop`` (the API root, above every wing), attaches the
display methods Jupyter looks for (``_repr_html_``, ``_repr_markdown_``, ``_repr_svg_``), short ``__repr__``s,
``net.draw()`` and ``run.plot()``. This module and :mod:`~deltaprop.view.drawing` import only the standard
library and NumPy at first; matplotlib, SymPy and Graphviz load when a display needs them.

- a network: its layers or neurons and the drawing (:mod:`deltaprop.view.drawing`); a network read from a
  file with a ``[sample]`` is drawn after forward and backward on it: z, a and δ on every neuron;
- a trace (forward pass) and gradients: one table per layer;
- a derivation (``dp.derive``): the worked solution, step by step, as Markdown with LaTeX;
- a training run (``dp.fit``): its figures and the learning curves;
- a trained model: task, sizes, classes.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

MAX_ROWS = 8  # samples shown in a table; the rest are counted
MAX_COLS = 12  # neurons shown per layer
MAX_TABLE = 40  # neurons listed in a network's table


def _f(v) -> str:
    return f"{float(v):.4g}"


def _table(head: list[str], rows: list[list[str]], caption: str = "") -> str:
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _matrix(M: np.ndarray, caption: str, row_name: str = "sample", col_prefix: str = "") -> str:
    """A (rows, cols) array as a table, at most MAX_ROWS × MAX_COLS of it."""
    M = np.atleast_2d(np.asarray(M))
    n, m = M.shape
    cols = list(range(min(m, MAX_COLS)))
    head = [row_name] + [f"{col_prefix}{j + 1}" for j in cols] + (["…"] if m > MAX_COLS else [])
    rows = [[str(i + 1)] + [_f(M[i, j]) for j in cols] + (["…"] if m > MAX_COLS else [])
            for i in range(min(n, MAX_ROWS))]
    if n > MAX_ROWS:
        rows.append([f"… {n - MAX_ROWS} more"] + [""] * (len(head) - 1))
    return _table(head, rows, caption)


def _svg_block(svg: str) -> str:
    return f"<div style='overflow-x:auto'>{svg}</div>"


# --- networks -----------------------------------------------------------------------------------------------------


def network_html(net) -> str:
    """A summary table and the drawing; after forward and backward on the file's sample, if it has one."""
    from . import drawing

    sample = getattr(net, "sample", None)
    X, T = sample if sample is not None else (None, None)
    d = drawing.draw(net, X, T) if _small(net) else None
    head = f"<p><code>{html.escape(repr(net))}</code></p>"
    if hasattr(net, "sizes"):
        rows = [[str(l), str(n), net.activations[l - 1].name if l else "input",
                 str(net.W[l - 1].size + net.b[l - 1].size) if l else ""] for l, n in enumerate(net.sizes)]
        table = _table(["layer", "size", "activation", "parameters"], rows)
    else:
        n_in = net.n_inputs
        rows = [[i, "input" if p < n_in else net.activations[p - n_in].name,
                 "" if p < n_in else _f(net.b[p - n_in]), "output" if i in net.outputs else ""]
                for p, i in enumerate(net.ids[:MAX_TABLE])]
        if len(net.ids) > MAX_TABLE:
            rows.append([f"… {len(net.ids) - MAX_TABLE} more", "", "", ""])
        table = _table(["neuron", "activation", "b", ""], rows)
    note = ("<p>Drawn after forward and backward on the file's <code>[sample]</code>: z, a and δ = ∂c/∂z on "
            "each neuron, w and ∂C/∂w on each edge.</p>" if X is not None and d is not None else "")
    return head + table + note + (_svg_block(d.svg()) if d is not None else "")


def _small(net) -> bool:
    """Layered networks are always drawn (wide layers collapse); neuron graphs up to drawing's limit."""
    from .drawing import MAX_GRAPH_NEURONS

    return hasattr(net, "sizes") or len(net.ids) <= MAX_GRAPH_NEURONS


# --- traces and gradients --------------------------------------------------------------------------------------


def trace_html(trace) -> str:
    """A layered forward pass: per layer z and a (samples × neurons); a graph's: Z and A (neurons × samples)."""
    if hasattr(trace, "z"):
        parts = [_matrix(trace.X, "inputs x", col_prefix="x")]
        for l, (z, a) in enumerate(zip(trace.z, trace.a), 1):
            parts += [_matrix(z, f"layer {l}: z = a_prev Wᵀ + b"), _matrix(a, f"layer {l}: a = σ(z)")]
        return "".join(parts)
    return (_matrix(trace.Z.T, "z of every neuron (by position; inputs: x)", col_prefix="#")
            + _matrix(trace.A.T, "a of every neuron", col_prefix="#"))


def grads_html(g) -> str:
    """δ per layer and sample, ∂C/∂W and ∂C/∂b of the batch cost C."""
    if isinstance(getattr(g, "W", None), list):
        parts = [f"<p>cost C = {_f(g.cost)}</p>"]
        for l, (d, W, b) in enumerate(zip(g.delta, g.W, g.b), 1):
            parts += [_matrix(d, f"layer {l}: δ = ∂c/∂z (per sample)"),
                      _matrix(W, f"layer {l}: ∂C/∂W (rows j, columns k)", row_name="j", col_prefix="k"),
                      _matrix(b[None, :], f"layer {l}: ∂C/∂b", row_name="")]
        return "".join(parts)
    return (f"<p>cost C = {_f(g.cost)}</p>" + _matrix(g.delta.T, "δ of every neuron (by position)", col_prefix="#")
            + _matrix(g.w[None, :], "∂C/∂w (in the order of net.edges)", row_name="", col_prefix="e")
            + _matrix(g.b[None, :], "∂C/∂b (in the order of net.neurons)", row_name="", col_prefix="n"))


class TraceReport(dict):
    """The trace of one batch (:mod:`deltaprop.explain.trace`'s plain data, a dict) that shows itself as tables."""

    def __repr__(self) -> str:
        kind = "neurons" if "neurons" in self else "layers"
        return f"TraceReport(loss={_f(self['loss'])}, {len(self[kind])} {kind}{', lr=' + str(self['lr']) if 'lr' in self else ''})"

    def _repr_html_(self) -> str:
        return trace_report_html(self)


def trace(net, X=None, T=None, lr: float | None = None, neurons: bool = False) -> TraceReport:
    """Forward and backward on the batch (X, T) (default: the file's [sample]) as tables: per neuron z, a,
    σ′(z), δ; per weight and bias ∂C/∂θ and, with ``lr`` = K, θ − K ∂C/∂θ. The numbers of ``deltaprop trace``.
    ``net`` may also be a trained model (``dp.load_model``): X and T in its own units, its standardisation
    first (:func:`deltaprop.explain.trace.model_report`); ``neurons`` adds a layered network's neurons one by one."""
    from ..errors import DeltapropError
    from ..explain import trace as trace_mod

    if X is None:
        sample = getattr(net, "sample", None)
        if sample is None:
            raise DeltapropError("trace needs a batch X, T (or a network loaded from a file with a [sample])")
        X, T = sample
    return TraceReport(trace_mod.trace(net, X, T, lr, neurons))


def _cell(v) -> str:
    if isinstance(v, list):
        return ", ".join(_f(x) for x in v[:4]) + (" …" if len(v) > 4 else "")
    return "" if v is None else _f(v)


def trace_report_html(r: dict) -> str:
    head = f"<p>loss ({html.escape(r['loss_name'])}, {r['reduction']} over the batch) = {_f(r['loss'])}</p>"
    upd = "lr" in r or any("updated_weights" in layer for layer in r.get("layers", []))
    if "neurons" in r:
        rows = [[i, "input", "", _cell(v["x"]), "", _cell(v["grad"])] for i, v in r["inputs"].items()]
        rows += [[j, v["activation"], _cell(v["z"]), _cell(v["a"]), _cell(v["sigma_prime"]), _cell(v["delta"])]
                 for j, v in r["neurons"].items()]
        neurons = _table(["neuron", "σ", "z", "a", "σ′(z)", "δ = ∂L/∂z (inputs: ∂L/∂x)"], rows,
                         "forward z_j = Σ_i w_ij a_i + b_j, a_j = σ_j(z_j); backward δ_j = σ′(z_j)(∂L/∂a_j + Σ_k w_jk δ_k)")
        w_rows = [[k.replace("->", " → "), _f(v["value"]), _f(v["grad"])] + ([_f(v["updated"])] if upd else []) for k, v in r["weights"].items()]
        weights = _table(["i → j", "w_ij", "∂L/∂w_ij = a_i δ_j"] + ([f"w − {r['lr']:g} ∂L/∂w"] if upd else []), w_rows)
        b_rows = [[k, _f(v["value"]), _f(v["grad"])] + ([_f(v["updated"])] if upd else []) for k, v in r["biases"].items()]
        biases = _table(["j", "b_j", "∂L/∂b_j = δ_j"] + ([f"b − {r['lr']:g} ∂L/∂b"] if upd else []), b_rows)
        return head + neurons + weights + biases
    parts = [head]
    if "standardize" in r:  # a trained model: its preprocessing is step 0
        s = r["standardize"]
        rows = [[str(n + 1), name, _f(x[k]), _f(s["x_mean"][k]), _f(s["x_scale"][k]), _f(xs[k])]
                for n, (x, xs) in enumerate(zip(s["x"][:MAX_ROWS], s["x_standardized"]))
                for k, name in enumerate(s["features"][:MAX_COLS])]
        parts.append(_table(["sample", "feature", "x", "x_mean", "x_scale", "x̃"], rows,
                            "step 0, the model's standardisation: x̃ = (x − x_mean) / x_scale"))
    for l, layer in enumerate(r["layers"], 1):
        z, a, d = (np.asarray(layer[k]) for k in ("z", "a", "delta"))
        rows = [[str(n + 1), str(j + 1), _f(z[n, j]), _f(a[n, j]), _f(d[n, j])]
                for n in range(min(z.shape[0], MAX_ROWS)) for j in range(min(z.shape[1], MAX_COLS))]
        parts.append(_table(["sample", "neuron", "z", "a", "δ = ∂c/∂z"], rows, f"layer {l} ({layer['activation']})"))
        parts.append(_matrix(np.asarray(layer["grad_weights"]), f"layer {l}: ∂C/∂W (rows j, columns k)",
                             row_name="j", col_prefix="k"))
    return "".join(parts)


def short_repr(obj, fields: dict) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{type(obj).__name__}({inner})"


def shape(a) -> str:
    return "×".join(map(str, np.shape(a)))


def trace_repr(trace) -> str:
    if hasattr(trace, "z"):
        return short_repr(trace, {"X": shape(trace.X), "z": [shape(z) for z in trace.z]})
    return short_repr(trace, {"X": shape(trace.X), "Z": shape(trace.Z)})


def grads_repr(g) -> str:
    if isinstance(getattr(g, "W", None), list):
        return short_repr(g, {"cost": _f(g.cost), "W": [shape(w) for w in g.W]})
    return short_repr(g, {"cost": _f(g.cost), "w": shape(g.w), "b": shape(g.b)})


def gradcheck_repr(r) -> str:
    errors = {k: f"{v:.2g}" for k, v in r.errors.items()}
    return f"GradcheckReport(method={r.method!r}, max_error={r.max_error:.2g}, errors={errors})"


def gradcheck_html(r, tol: float = 1e-6) -> str:
    """Backprop against the numerical gradient: the relative error per parameter array."""
    rows = [[k, str(np.size(r.backprop.get(k, ()))), f"{v:.3g}", "ok" if v <= tol else "over the tolerance"]
            for k, v in r.errors.items()]
    return _table(["array", "entries", "relative error", f"at tol {tol:g}"], rows,
                  f"backprop against {r.method} differences (float64)")


# --- derivations ---------------------------------------------------------------------------------------------


def _tex(e) -> str:
    import sympy as sp

    return sp.latex(e)


def derivation_markdown(r) -> str:
    """The worked solution of ``dp.derive``: the output rule, δ neuron by neuron, the chain rule, the value."""
    import sympy as sp

    lhs = rf"\frac{{\partial L}}{{\partial {_tex(sp.Symbol(r.wrt))}}}"
    lines = [f"**∂L/∂{r.wrt} at the sample**", ""]
    for k, ell, act, delta in r.output_steps:
        a_k, z_k = _out_symbols(r, k)
        lines += [f"Output neuron {k}: $L = {_tex(ell)}$, $\\;{a_k} = {_tex(act)}$, so",
                  "", f"$$\\delta_{{{k}}} = \\frac{{\\partial L}}{{\\partial {z_k}}} = {_tex(delta)}$$", ""]
    lines += [r"Backward, neuron by neuron ($\delta_j = \sigma'(z_j) \sum_k w_{jk} \delta_k$):", ""]
    for s, rec, _, v in r.steps:
        lines += [f"$$ {_tex(s)} = {_tex(rec)} = {v:.6g} $$", ""]
    lines += ["The chain rule for the target:", "", f"$$ {lhs} = {_tex(r.head)} $$", "",
              "Written out in full and simplified:", "", f"$$ {lhs} = {_tex(r.expression)} $$", "",
              f"Value at the sample: ${lhs} = {r.value:.10g}$"]
    return "\n".join(lines)


def _out_symbols(r, k: str) -> tuple[str, str]:
    for name in r.values:  # z3/a3 when ids are single characters, z_h1/a_h1 otherwise
        if name in (f"z{k}", f"z_{k}"):
            return _tex_name("a" + name[1:]), _tex_name(name)
    return f"a_{{{k}}}", f"z_{{{k}}}"


def _tex_name(name: str) -> str:
    import sympy as sp

    return sp.latex(sp.Symbol(name))


def derivation_latex(r) -> str:
    import sympy as sp

    lhs = rf"\frac{{\partial L}}{{\partial {_tex(sp.Symbol(r.wrt))}}}"
    rows = [rf"{_tex(s)} &= {_tex(rec)} = {v:.6g} \\" for s, rec, _, v in r.steps]
    rows += [rf"{lhs} &= {_tex(r.head)} \\", rf"&= {_tex(r.expression)} \\", rf"&= {r.value:.10g}"]
    return "$$\\begin{aligned}\n" + "\n".join(rows) + "\n\\end{aligned}$$"


def derivation_repr(r) -> str:
    return f"Derivation(∂L/∂{r.wrt} = {r.value:.6g}, {len(r.steps)} δ steps)"


def likelihood_markdown(r) -> str:
    import sympy as sp

    out = [f"**{r.title}** (Bishop: a the weighted input, y = h(a) the output, t the target)", ""]
    out += [f"{n}. $${s}$$" for n, s in enumerate(r.steps, 1)]
    check = "verified by SymPy" if r.verified else "**not** verified by SymPy"
    # SymPy prints the symbol sigma2 as σ₂; it is the variance σ²
    delta = r.delta.xreplace({v: sp.Symbol(r"\sigma^{2}") for v in r.delta.free_symbols if v.name == "sigma2"})
    out += ["", f"Output activation `{r.activation}`: $\\delta = \\partial E/\\partial a = {sp.latex(delta)}$ "
            f"({check})."]
    if r.note:
        out += ["", r.note]
    return "\n".join(out)


# --- training runs and models ---------------------------------------------------------------------------------


def _metric(m: dict) -> tuple[str, str] | None:
    for part in ("test", "val", "train"):
        for name in ("accuracy", "mse"):
            v = m.get(f"{part}_{name}")
            if v is not None:
                return f"{part} {name}", (f"{100 * v:.2f} %" if name == "accuracy" else f"{v:.4g}")
    return None


def run_repr(run) -> str:
    c = run.config
    fields = {"data": repr(c.data), "hidden": c.hidden, "epochs": len(run.history)}
    best = _metric(run.metrics or {})
    if best:
        fields[best[0].replace(" ", "_")] = best[1].replace(" %", "%")
    if run.out is not None:
        fields["out"] = repr(str(run.out))
    if run.stopped_after is not None:
        fields["stopped_after"] = run.stopped_after
    return short_repr(run, fields)


def figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def run_html(run) -> str:
    """The run's settings, its figures (train, validation, test) and the learning curves."""
    m, c = run.metrics or {}, run.config
    head = (f"<p><b>{html.escape(str(c.data))}</b>: {run.model.net.sizes} {html.escape(c.activation)}, "
            f"{html.escape(c.optimizer)} at lr {c.lr:g}, batches of {c.batch_size}, "
            f"{len(run.history)} of {c.epochs} epochs"
            + (f"; run directory <code>{html.escape(str(run.out))}</code>" if run.out else "") + "</p>")
    metric = "accuracy" if m.get("task", run.model.task) == "classification" else "mse"
    rows = []
    for part in ("train", "val", "test"):
        if m.get(f"{part}_loss") is not None:
            v = m.get(f"{part}_{metric}")
            shown = "" if v is None else (f"{100 * v:.2f} %" if metric == "accuracy" else f"{v:.4g}")
            rows.append([part, str(m.get(f"n_{part}", "")), _f(m[f"{part}_loss"]), shown])
    table = _table(["split", "samples", "loss", metric], rows) if rows else ""
    img = ""
    if run.history:
        try:
            img = f"<img src='data:image/png;base64,{figure_png(run.plot())}' alt='learning curves'/>"
        except ImportError:  # no matplotlib
            pass
    return head + table + img


def run_plot(run):
    """The learning curves of ``run`` as a matplotlib Figure (the backend is left alone)."""
    from . import plots

    return plots.learning_curves(run.history, run.model)


def model_repr(model) -> str:
    fields = {"task": repr(model.task), "sizes": model.net.sizes}
    if model.classes is not None:
        shown = model.classes[:6] + (["…"] if len(model.classes) > 6 else [])
        fields["classes"] = shown
    if model.info.get("data"):
        fields["data"] = repr(model.info["data"])
    return short_repr(model, fields)


def model_html(model) -> str:
    return f"<p><code>{html.escape(model_repr(model))}</code></p>" + network_html(model.net)


# --- attaching the displays to the classes -----------------------------------------------------------------------


def _draw(self, X=None, T=None, **kw):
    """A drawing of the network: every neuron and weight; with a batch X (and T), z, a (and δ, ∂C/∂w) of its first
    sample. Jupyter shows it; ``.save("net.png")`` writes it. See :func:`deltaprop.view.drawing.draw`."""
    from .drawing import draw

    return draw(self, X, T, **kw)


def _plot(self):
    """The learning curves of the run as a matplotlib Figure (Jupyter shows it; ``.savefig(path)`` writes it)."""
    return run_plot(self)


def install() -> None:
    """Attach the notebook displays, short reprs, ``draw`` and ``plot`` to deltaprop's classes (idempotent)."""
    from ..engine.graph import GraphGrads, GraphNetwork, GraphTrace
    from ..engine.layered import Grads, Network, Trace
    from ..explain.gradcheck import GradcheckReport
    from ..training.model import Model
    from ..training.train import Run

    methods = {
        Network: {"draw": _draw, "_repr_html_": network_html},
        GraphNetwork: {"draw": _draw, "_repr_html_": network_html},
        Trace: {"__repr__": trace_repr, "_repr_html_": trace_html},
        GraphTrace: {"__repr__": trace_repr, "_repr_html_": trace_html},
        Grads: {"__repr__": grads_repr, "_repr_html_": grads_html},
        GraphGrads: {"__repr__": grads_repr, "_repr_html_": grads_html},
        GradcheckReport: {"__repr__": gradcheck_repr, "_repr_html_": gradcheck_html},
        Model: {"__repr__": model_repr, "_repr_html_": model_html},
        Run: {"__repr__": run_repr, "_repr_html_": run_html, "plot": _plot},
    }
    for cls, attrs in methods.items():
        for name, fn in attrs.items():
            setattr(cls, name, fn)


def install_symbolic(module) -> None:
    """The same for the derivations, once SymPy's module is loaded (``dp.derive`` loads it on first use)."""
    module.Derivation.__repr__ = derivation_repr
    module.Derivation._repr_markdown_ = derivation_markdown  # the worked solution, rendered by Jupyter
    module.LikelihoodDerivation._repr_markdown_ = likelihood_markdown
