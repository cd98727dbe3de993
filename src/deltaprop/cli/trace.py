"""``deltaprop trace FILE``: forward and backward on one batch, every z, a, δ and gradient shown.

Layered files get a table per layer; neuron-level files a table per neuron with σ′(z), δ and the terms
w_jk δ_k each neuron receives (seed 004's parts a–d). The numbers come from :mod:`deltaprop.explain.trace`;
this module only prints them.
"""

from __future__ import annotations

import numpy as np

from ..explain import trace as trace_mod
from .common import add_batch_arguments, dump_json, network_and_batch


def register(sub) -> None:
    p = sub.add_parser("trace", help="run forward and backward on one batch and show z, a, δ and gradients")
    p.add_argument("file", help="network file (TOML)")
    add_batch_arguments(p)
    p.add_argument("--lr", type=float, metavar="K", help="also show each parameter after one step w − K ∂L/∂w")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    net, X, T = network_and_batch(args)
    report = trace_mod.report(net, X, T, args.lr, source=str(args.file))
    if args.json:
        print(dump_json(report))
    elif "layers" in report:
        print_layered(report)
    else:
        print_graph(report)
    return 0


def print_layered(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rule = "δᴸ = a − t (canonical pair)" if report["fused_output_delta"] else "δᴸ = ∇ₐc ⊙ σ′(zᴸ)"
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
    for j, n in reversed(report["neurons"].items()):
        parts = [f"∂L/∂a{j} ({_fmt(n['dL_da'])})"] if n.get("output") else []
        parts += [f"w{j},{c['to']}·δ{c['to']} ({_fmt(c['w'])}·{_fmt(c['delta'])} = {_fmt(c['term'])})"
                  for c in n["terms"]]
        received = ([n["dL_da"]] if n.get("output") else []) + [c["term"] for c in n["terms"]]
        inner = np.sum([np.asarray(v) for v in received], axis=0)
        console.print(f"  δ{j} = σ′(z{j}) · ({' + '.join(parts)}) = {_fmt(n['sigma_prime'])} · "
                      f"{_fmt(inner.tolist())} = {_fmt(n['delta'])}", markup=False, highlight=False, soft_wrap=True)
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
