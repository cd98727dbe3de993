"""``deltaprop trace FILE``: forward and backward on one batch, every z, a, δ and gradient shown.

Layered files get a table per layer; neuron-level files a table per neuron with σ′(z), δ and the terms
w_jk δ_k each neuron receives (seed 004's parts a–d). A trained model (model.npz, .safetensors) gets its
standardisation as step 0, then its network's tables, then its output; ``--neurons`` adds a table per layer
neuron by neuron. The numbers come from :mod:`deltaprop.explain.trace`; this module only prints them.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeltapropError
from ..explain import trace as trace_mod
from .common import add_batch_arguments, add_row_argument, dump_json, is_model_file, model_batch, network_and_batch


def register(sub) -> None:
    p = sub.add_parser("trace", help="run forward and backward on one batch and show z, a, δ and gradients")
    p.add_argument("file", help="network file (TOML), or a trained model (model.npz, .safetensors)")
    add_batch_arguments(p)
    add_row_argument(p)
    p.add_argument("--neurons", action="store_true", help="also show each layer neuron by neuron: z, a, σ′(z), "
                                                          "δ and the terms W[k, j] δ_k it is made of")
    p.add_argument("--lr", type=float, metavar="K", help="also show each parameter after one step w − K ∂L/∂w")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if is_model_file(args.file):
        return run_model(args)
    if args.row is not None:
        raise DeltapropError("--row picks a row of a data set for a trained model (model.npz)")
    net, X, T = network_and_batch(args)
    report = trace_mod.trace(net, X, T, args.lr, neurons=args.neurons) if args.neurons else \
        trace_mod.report(net, X, T, args.lr, source=str(args.file))
    if args.json:
        print(dump_json(report))
        return 0
    from .. import limits

    limits.check("table_cells", table_cells(report), str(args.file),
                 "the tables to print (cells; --json prints any trace within trace_values)")
    if "layers" in report:
        print_layered(report)
        if "per_neuron" in report:
            print_neurons(report)
    else:
        print_graph(report)
    return 0


def table_cells(report: dict) -> int:
    """Cells of the tables :func:`print_layered` or :func:`print_graph` would print."""
    if "layers" in report:
        return sum(6 * len(layer["z"]) * len(layer["z"][0]) + len(layer["grad_weights"]) * (1 + len(
            layer["grad_weights"][0]) if layer["grad_weights"] else 0) for layer in report["layers"])
    return 6 * (len(report["inputs"]) + len(report["neurons"])) + 4 * (len(report["weights"]) + len(report["biases"]))


def print_layered(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if report["fused_output_delta"]:
        rule = "δᴸ = a − t (canonical pair)"
    elif report["layers"][-1]["activation"] == "softmax":  # its Jacobian couples the outputs: no ⊙ σ′
        rule = "δᴸ = Jᵀ ∇ₐc, the softmax Jacobian: δ_j = a_j (∂c/∂a_j − Σ_k a_k ∂c/∂a_k)"
    else:
        rule = "δᴸ = ∇ₐc ⊙ σ′(zᴸ)"
    console.print(f"loss ({report['loss_name']}, {report['reduction']} over the batch) = {report['loss']:.10g};  {rule}")
    for l, layer in enumerate(report["layers"], start=1):
        z, a, d = (np.array(layer[k]) for k in ("z", "a", "delta"))
        table = Table(title=f"layer {l} ({layer['activation']})", title_justify="left")
        for col in ("sample", "neuron", "z", "a", "δ = ∂c/∂z", "∂C/∂b"):
            table.add_column(col, justify="right")
        for n in range(z.shape[0]):
            for j in range(z.shape[1]):
                gb = f"{layer['grad_bias'][j]:.6g}" if n == 0 else ""
                table.add_row(str(n), str(j + 1), f"{z[n, j]:.6g}", f"{a[n, j]:.6g}", f"{d[n, j]:.6g}", gb)
        console.print(table)
        gW = np.array(layer["grad_weights"])
        wt = Table(title=f"layer {l}: ∂C/∂W[j, k] (from neuron k of the layer before to neuron j)",
                   title_justify="left")
        wt.add_column("j \\ k", justify="right")
        for k in range(gW.shape[1]):
            wt.add_column(str(k + 1), justify="right")
        for j in range(gW.shape[0]):
            wt.add_row(str(j + 1), *(f"{v:.6g}" for v in gW[j]))
        console.print(wt)


def _fmt(v) -> str:
    return f"{v:.6g}" if not isinstance(v, list) else "[" + ", ".join(f"{x:.6g}" for x in v) + "]"


def _factor(v) -> str:
    """A number as a factor of a product: negative ones in parentheses (0.5 · (−0.0786), not 0.5 · −0.0786)."""
    s = _fmt(v)
    return f"({s})" if s.startswith("-") else s


def print_graph(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"loss ({report['loss_name']}, {report['reduction']} over {report['samples']} sample(s)) = "
                  f"{report['loss']:.10g}")
    table = Table(title="forward: z_j = Σ_i w_ij a_i + b_j, a_j = σ_j(z_j)", title_justify="left")
    for col in ("neuron", "σ_j", "z", "a", "σ′(z)", "δ = ∂L/∂z"):
        table.add_column(col, justify="left" if col == "σ_j" else "right")
    for j, n in report["inputs"].items():
        table.add_row(j, "input", "", _fmt(n["x"]), "", "")
    for j, n in report["neurons"].items():
        table.add_row(j, n["activation"], _fmt(n["z"]), _fmt(n["a"]), _fmt(n["sigma_prime"]), _fmt(n["delta"]))
    console.print(table)
    console.print("backward: δ_j = σ′(z_j) (∂L/∂a_j [outputs] + Σ_k w_jk δ_k), last neuron first", markup=False)
    soft = {j: n for j, n in report["neurons"].items() if n["activation"] == "softmax"}
    if soft:  # the softmax Jacobian couples its outputs: δ_k = a_k (∂L/∂a_k − Σ_m a_m ∂L/∂a_m)
        mix = np.sum([np.asarray(n["a"]) * np.asarray(n["dL_da"]) for n in soft.values()], axis=0)
        names = ", ".join(soft)
        console.print(f"  softmax over {names}: Σ_m a_m ∂L/∂a_m = {_fmt(mix.tolist())}", markup=False,
                      highlight=False, soft_wrap=True)
    for j, n in reversed(report["neurons"].items()):
        if j in soft:
            console.print(f"  δ{j} = a{j} · (∂L/∂a{j} − Σ_m a_m ∂L/∂a_m) = {_factor(n['a'])} · "
                          f"({_fmt(n['dL_da'])} − {_factor(mix.tolist())}) = {_fmt(n['delta'])}", markup=False,
                          highlight=False, soft_wrap=True)
            continue
        parts = [f"∂L/∂a{j} ({_fmt(n['dL_da'])})"] if n.get("output") else []
        parts += [f"w{j},{c['to']}·δ{c['to']} ({_factor(c['w'])}·{_factor(c['delta'])} = {_fmt(c['term'])})"
                  for c in n["terms"]]
        received = ([n["dL_da"]] if n.get("output") else []) + [c["term"] for c in n["terms"]]
        inner = np.sum([np.asarray(v) for v in received], axis=0)
        console.print(f"  δ{j} = σ′(z{j}) · ({' + '.join(parts)}) = {_factor(n['sigma_prime'])} · "
                      f"{_factor(inner.tolist())} = {_fmt(n['delta'])}", markup=False, highlight=False, soft_wrap=True)
    for j, n in report["inputs"].items():
        parts = [f"w{j},{c['to']}·δ{c['to']} ({_fmt(c['term'])})" for c in n["terms"]]
        console.print(f"  ∂L/∂x{j} = {' + '.join(parts)} = {_fmt(n['grad'])}", markup=False, highlight=False, soft_wrap=True)
    upd = "lr" in report
    wt = Table(title="weights w_ij (from i into j): ∂L/∂w_ij = a_i δ_j"
               + (f", updated w − {report['lr']:g}·∂L/∂w" if upd else ""), title_justify="left")
    for col in ("i → j", "w_ij", "∂L/∂w_ij", *(("updated",) if upd else ())):
        wt.add_column(col, justify="right")
    for key, r in report["weights"].items():
        wt.add_row(f"{r['from']} → {r['to']}", _fmt(r["value"]), _fmt(r["grad"]), *((_fmt(r["updated"]),) if upd else ()))
    console.print(wt)
    bt = Table(title="biases: ∂L/∂b_j = δ_j", title_justify="left")
    for col in ("j", "b_j", "∂L/∂b_j", *(("updated",) if upd else ())):
        bt.add_column(col, justify="right")
    for j, r in report["biases"].items():
        bt.add_row(j, _fmt(r["value"]), _fmt(r["grad"]), *((_fmt(r["updated"]),) if upd else ()))
    console.print(bt)


# --- a trained model (model.npz or .safetensors) ---------------------------------------------------------------


def run_model(args) -> int:
    from ..training.model import load as load_model

    model = load_model(args.file)
    X, T = model_batch(model, args)
    report = trace_mod.model_report(model, X, T, args.lr, neurons=args.neurons)
    if args.json:
        print(dump_json(report))
    else:
        print_model(report)
    return 0


def print_model(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    std, m = report["standardize"], report["model"]
    t0 = Table(title="step 0, the model's standardisation: x̃ = (x − x_mean) / x_scale (the network sees x̃)",
               title_justify="left")
    for col in ("sample", "feature", "x", "x_mean", "x_scale", "x̃"):
        t0.add_column(col, justify="left" if col == "feature" else "right")
    for n, (x, xs) in enumerate(zip(std["x"], std["x_standardized"])):
        for k, name in enumerate(std["features"]):
            t0.add_row(str(n), name, f"{x[k]:.6g}", f"{std['x_mean'][k]:.6g}", f"{std['x_scale'][k]:.6g}",
                       f"{xs[k]:.6g}")
    console.print(t0)
    if m["task"] == "regression":
        tt = Table(title="the targets as trained: t̃ = (t − t_mean) / t_scale", title_justify="left")
        for col in ("sample", "output", "t", "t_mean", "t_scale", "t̃"):
            tt.add_column(col, justify="right")
        for n, (t, ts) in enumerate(zip(std["t"], std["t_network"])):
            for j in range(len(t)):
                tt.add_row(str(n), str(j + 1), f"{t[j]:.6g}", f"{std['t_mean'][j]:.6g}", f"{std['t_scale'][j]:.6g}",
                           f"{ts[j]:.6g}")
        console.print(tt)
    print_layered(report)
    if "per_neuron" in report:
        print_neurons(report)
    for n, out in enumerate(m["output"]):
        if m["task"] == "classification":
            probs = ", ".join(f"P({c}) = {p:.6g}" for c, p in zip(m["classes"], out))
            console.print(f"sample {n}: {probs}  →  {m['predicted'][n]}")
        else:
            a = report["layers"][-1]["a"][n]
            ys = ", ".join(f"{_par(a[j])} · {std['t_scale'][j]:.6g} + {_par(std['t_mean'][j])} = {y:.6g}"
                           for j, y in enumerate(out))
            console.print(f"sample {n}: y = aᴸ · t_scale + t_mean: {ys}", markup=False, highlight=False)


def print_neurons(report: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    L = len(report["per_neuron"])
    for l, rows in enumerate(report["per_neuron"], start=1):
        last = l == L
        act = report["layers"][l - 1]["activation"]
        if last:
            t_sum = np.sum([np.asarray(r["t"], dtype=float) for r in rows], axis=0)
            if not report["fused_output_delta"]:
                how = "δ from the loss: " + ("δ_j = Σ_k ∂c/∂a_k ∂a_k/∂z_j (softmax)" if act == "softmax"
                                             else "δ_j = ∂c/∂a_j · σ′(z_j)")
            elif act == "softmax" and not np.allclose(t_sum, 1.0, rtol=0, atol=1e-12):
                how = "δ_j = a_j Σ_k t_k − t_j (softmax + cross-entropy; targets that do not sum to 1)"
            else:
                how = "δ_j = a_j − t_j (canonical pair)"
        else:
            how = f"δ{_sup(l)}[j] = σ′(z{_sup(l)}[j]) Σ_k W{_sup(l + 1)}[k, j] δ{_sup(l + 1)}[k], k over layer {l + 1}"
        table = Table(title=escape(f"layer {l} ({act}) neuron by neuron: {how}"), title_justify="left")
        for col in ("j", "z", "a", "σ′(z)", "δ", *(("t",) if last else ()), "∂C/∂b"):
            table.add_column(col, justify="right")
        for r in rows:
            sp = "" if r["sigma_prime"] is None else _fmt(r["sigma_prime"])
            table.add_row(str(r["neuron"]), _fmt(r["z"]), _fmt(r["a"]), sp, _fmt(r["delta"]),
                          *((_fmt(r["t"]),) if last else ()), f"{r['grad_bias']:.6g}")
        console.print(table)
        if not last:
            up, here = _sup(l + 1), _sup(l)
            for r in rows:
                j = r["neuron"]
                sym = " + ".join(f"W{up}[{t['to']},{j}]·δ{up}[{t['to']}]" for t in r["terms"])
                num = " + ".join(f"{_par(t['w'])}·{_par(t['delta'])}" for t in r["terms"])
                console.print(f"  δ{here}[{j}] = σ′(z{here}[{j}]) · ({sym}) = {_fmt(r['sigma_prime'])} · ({num}) = "
                              f"{_fmt(r['delta'])}", markup=False, highlight=False, soft_wrap=True)


def _sup(n: int) -> str:
    """The layer number as a superscript: δ² is layer 2's δ."""
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _par(v) -> str:
    """A number for a product: in parentheses when negative."""
    text = _fmt(v)
    return f"({text})" if text.startswith("-") else text
