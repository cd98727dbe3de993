"""``deltaprop trace`` for neuron graphs: every neuron's z, a, σ′(z), δ and the terms w_jk δ_k it receives.

The tables are what seed 004's parts (a)–(d) ask for, number by number; ``--lr K`` adds each parameter after
one step w − K ∂L/∂w (parts b and c). Small networks only: this module loops over neurons and edges in Python.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeltapropError
from ..engine.graph import GraphNetwork
from .common import dump_json

MAX_TRACE_NEURONS = 5000  # a table for a person to read; larger graphs are for the engine, not the trace


def run(args, net: GraphNetwork, X, T, doc: dict) -> int:
    if X is None:
        X, T = net.default_batch(doc)
    if len(net.ids) > MAX_TRACE_NEURONS:
        raise DeltapropError(f"{args.file}: {len(net.ids)} neurons are too many to trace (limit {MAX_TRACE_NEURONS})")
    report = graph_report(net, X, T, args.lr)
    if args.json:
        print(dump_json(report))
    else:
        print_tables(report, net)
    return 0


def _value(row: np.ndarray):
    """A scalar for a single sample, else the list over samples."""
    return float(row[0]) if row.shape[0] == 1 else row.tolist()


def graph_report(net: GraphNetwork, X, T, lr: float | None = None) -> dict:
    """The trace as plain data (the JSON of ``trace --json``)."""
    trace = net.forward(X)
    grads = net.backward(trace, T)
    n_in = net.n_inputs
    children: dict[int, list[int]] = {}
    for e, i in enumerate(net.src.tolist()):
        children.setdefault(i, []).append(e)
    out_col = {int(p): c for c, p in enumerate(net.out_pos)}
    T2 = net._target(T, trace.X.shape[0])
    dc_da_out = net.loss.grad(trace.A[net.out_pos].T, T2).T  # (n_outputs, N)

    def terms(k: int) -> list[dict]:
        return [{"to": net.ids[net.dst[e]], "w": float(net.w[e]), "delta": _value(grads.delta[net.dst[e]]),
                 "term": _value(net.w[e] * grads.delta[net.dst[e]])} for e in children.get(k, [])]

    inputs = {net.ids[k]: {"x": _value(trace.A[k]), "grad": _value(grads.delta[k]), "terms": terms(k)}
              for k in range(n_in)}
    neurons = {}
    for k in range(n_in, len(net.ids)):
        entry = {"activation": net.activations[k - n_in].name, "z": _value(trace.Z[k]), "a": _value(trace.A[k]),
                 "sigma_prime": _value(grads.sigma_prime[k]), "delta": _value(grads.delta[k]),
                 "terms": terms(k)}
        if k in out_col:
            entry["output"] = True
            entry["t"] = _value(T2[:, out_col[k]])
            entry["dL_da"] = _value(dc_da_out[out_col[k]])
        neurons[net.ids[k]] = entry
    weights = {}
    for e, (i, j) in enumerate(net.edges):
        weights[f"{i}->{j}"] = {"from": i, "to": j, "value": float(net.w[e]), "grad": float(grads.w[e])}
        if lr is not None:
            weights[f"{i}->{j}"]["updated"] = float(net.w[e] - lr * grads.w[e])
    biases = {}
    for m, j in enumerate(net.neurons):
        biases[j] = {"value": float(net.b[m]), "grad": float(grads.b[m])}
        if lr is not None:
            biases[j]["updated"] = float(net.b[m] - lr * grads.b[m])
    report = {"loss": float(grads.cost), "loss_name": net.loss.name, "reduction": net.reduction,
              "samples": int(trace.X.shape[0]), "outputs": net.outputs, "inputs": inputs, "neurons": neurons,
              "weights": weights, "biases": biases}
    if lr is not None:
        report["lr"] = lr
    return report


def _fmt(v) -> str:
    return f"{v:.6g}" if not isinstance(v, list) else "[" + ", ".join(f"{x:.6g}" for x in v) + "]"


def print_tables(report: dict, net: GraphNetwork) -> None:
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
