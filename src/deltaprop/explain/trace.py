"""The trace of one batch as plain data: every z, a, σ′(z), δ and gradient, for a person to check by hand.

One report per engine, both plain dicts of lists and floats (the JSON of ``deltaprop trace --json``), shared by
the command line, notebooks and the browser page, which only lay them out:

- layered (:func:`layered_report`): per layer z, a, δ (N, n_l), ∂C/∂W (n_l, n_{l-1}), ∂C/∂b (n_l,);
- neuron graph (:func:`graph_report`): per neuron z_j, a_j, σ′(z_j), δ_j and the terms w_jk δ_k it receives,
  per weight w_ij and ∂C/∂w_ij = s Σ_n a_i δ_j, per bias ∂C/∂b_j (seed 004's parts a–d, number by number).

With ``lr`` = K each parameter also appears after one step θ − K ∂C/∂θ (the exam's parts b and c).
"""

from __future__ import annotations

import numpy as np

from ..engine.graph import GraphNetwork
from ..engine.layered import Network
from ..errors import DeltapropError

MAX_TRACE_NEURONS = 5000  # a table for a person to read; larger graphs are for the engine, not the trace


def report(net: Network | GraphNetwork, X, T, lr: float | None = None, source: str = "<network>") -> dict:
    """The trace of either engine on the batch X (N, n_inputs), T (N, n_outputs)."""
    if isinstance(net, GraphNetwork):
        if len(net.ids) > MAX_TRACE_NEURONS:
            raise DeltapropError(f"{source}: {len(net.ids)} neurons are too many to trace "
                                 f"(limit {MAX_TRACE_NEURONS})")
        return graph_report(net, X, T, lr)
    return layered_report(net, X, T, lr)


def layered_report(net: Network, X, T, lr: float | None = None) -> dict:
    """Per layer: activation, z, a, delta (lists of rows, a row per sample), grad_weights, grad_bias."""
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


def _value(row: np.ndarray):
    """A scalar for a single sample, else the list over samples."""
    return float(row[0]) if row.shape[0] == 1 else row.tolist()


def graph_report(net: GraphNetwork, X, T, lr: float | None = None) -> dict:
    """Per input, neuron, weight and bias, keyed by id ("i->j" for weights). Loops over neurons and edges in
    Python: small networks only (see :data:`MAX_TRACE_NEURONS`)."""
    trace = net.forward(X)
    grads = net.backward(trace, T)
    n_in = net.n_inputs
    children: dict[int, list[int]] = {}
    for e, i in enumerate(net.src.tolist()):
        children.setdefault(i, []).append(e)
    out_col = {int(p): c for c, p in enumerate(net.out_pos)}
    T2 = net.targets(T, trace.X.shape[0])
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
    out = {"loss": float(grads.cost), "loss_name": net.loss.name, "reduction": net.reduction,
           "samples": int(trace.X.shape[0]), "outputs": net.outputs, "inputs": inputs, "neurons": neurons,
           "weights": weights, "biases": biases}
    if lr is not None:
        out["lr"] = lr
    return out
