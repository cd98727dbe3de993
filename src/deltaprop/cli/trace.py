"""``deltaprop trace FILE``: forward and backward on one batch, every z, a, δ and gradient shown."""

from __future__ import annotations

import numpy as np

from ..files import netfile
from ..errors import DeltapropError
from ..engine.layered import Network
from .common import add_batch_arguments, dump_json, load_network_and_batch


def register(sub) -> None:
    p = sub.add_parser("trace", help="run forward and backward on one batch and show z, a, δ and gradients")
    p.add_argument("file", help="network file (TOML)")
    add_batch_arguments(p)
    p.add_argument("--lr", type=float, metavar="K", help="also show each parameter after one step w − K ∂L/∂w")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    net, X, T, doc = load_network_and_batch(args)
    if not isinstance(net, Network):
        from . import trace_graph

        return trace_graph.run(args, net, X, T, doc)
    if X is None:
        xt = netfile.sample(doc, str(args.file))
        if xt is None:
            raise DeltapropError("no batch: give --data DATA.npz, or --x … --t …, or a [sample] in the file")
        X, T = xt
    report = layered_report(net, X, T, args.lr)
    if args.json:
        print(dump_json(report))
    else:
        print_tables(report)
    return 0


def layered_report(net: Network, X, T, lr: float | None = None) -> dict:
    trace = net.forward(X)
    grads = net.backward(trace, T)
    layers = []
    for l in range(net.L):
        layer = {
            "activation": net.activations[l].name,
            "z": trace.z[l].tolist(),
            "a": trace.a[l].tolist(),
            "delta": grads.delta[l].tolist(),
            "grad_weights": grads.W[l].tolist(),
            "grad_bias": grads.b[l].tolist(),
        }
        if lr is not None:
            layer["updated_weights"] = (net.W[l] - lr * grads.W[l]).tolist()
            layer["updated_bias"] = (net.b[l] - lr * grads.b[l]).tolist()
        layers.append(layer)
    return {"loss": float(grads.cost), "reduction": net.reduction, "loss_name": net.loss.name,
            "fused_output_delta": net.fused is not None, "layers": layers}


def print_tables(report: dict) -> None:
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
