"""The trace of one batch as plain data: every z, a, σ′(z), δ and gradient, for a person to check by hand.

One report per engine, both plain dicts of lists and floats (the JSON of ``deltaprop trace --json``), shared by
the command line, notebooks and the browser page, which only lay them out:

- layered (:func:`layered_report`): per layer z, a, δ (N, n_l), ∂C/∂W (n_l, n_{l-1}), ∂C/∂b (n_l,);
- neuron graph (:func:`graph_report`): per neuron z_j, a_j, σ′(z_j), δ_j and the terms w_jk δ_k it receives,
  per weight w_ij and ∂C/∂w_ij = s Σ_n a_i δ_j, per bias ∂C/∂b_j (seed 004's parts a–d, number by number).

With ``lr`` = K each parameter also appears after one step θ − K ∂C/∂θ (the exam's parts b and c).

A trained model (:func:`model_report`) is traced in its own units: its standardisation first, then the layered
report of its network on the standardized batch, then its output (``dp.trace(model, x, t)``).
"""

from __future__ import annotations

import numpy as np

from ..engine.graph import GraphNetwork
from ..engine.layered import Network
from .. import limits
from ..errors import DeltapropError

MAX_TRACE_NEURONS = 5000  # a table for a person to read; larger graphs are for the engine, not the trace


def values(net: Network | GraphNetwork, n_samples: int) -> int:
    """How many numbers a trace of ``n_samples`` samples holds: z, a and δ of every unit (inputs included) per
    sample, and each weight with its gradient."""
    if isinstance(net, GraphNetwork):
        return 3 * n_samples * len(net.ids) + 2 * len(net.w)
    return 3 * n_samples * sum(net.sizes) + 2 * sum(W.size for W in net.W)


def report(net: Network | GraphNetwork, X, T, lr: float | None = None, source: str = "<network>") -> dict:
    """The trace of either engine on the batch X (N, n_inputs), T (N, n_outputs)."""
    limits.check("trace_values", values(net, np.shape(X)[0]), source,
                 "the trace (samples × neurons for z, a and δ, plus one value per weight)")
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


# --- a trained model: its standardisation, then the network's trace ------------------------------------------


def model_report(model, X, T, lr: float | None = None, neurons: bool = False) -> dict:
    """The trace of a trained model on X (N, n_in) and T (N, n_out), both in the model's own units.

    Step 0 is the model's preprocessing, x̃ = (x − x_mean)/x_scale (and for regression t̃ = (t − t_mean)/t_scale,
    the targets the network was trained on); then the layered trace of the network on (x̃, t̃), whose loss and
    gradients are those training descended on; then the output in the model's units (class probabilities, or
    y = aᴸ·t_scale + t_mean). With ``neurons``, ``per_neuron`` lists each layer's neurons one by one (see
    :func:`neuron_details`).
    """
    net = model.net
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    T = np.atleast_2d(np.asarray(T, dtype=np.float64))
    Xs, Ts = model.inputs(X), model.targets(T)
    report = layered_report(net, Xs, Ts, lr)
    names = model.feature_names or [f"x{k + 1}" for k in range(net.sizes[0])]
    std = {"features": names, "x": X.tolist(), "x_mean": model.x_mean.tolist(), "x_scale": model.x_scale.tolist(),
           "x_standardized": Xs.astype(np.float64).tolist(), "t": T.tolist(),
           "t_network": Ts.astype(np.float64).tolist()}
    if model.task == "regression":
        std.update(t_mean=model.t_mean.tolist(), t_scale=model.t_scale.tolist())
    out = model.output(X)
    result = {"task": model.task, "output": out.tolist()}
    if model.task == "classification":
        result["classes"] = model.classes
        result["predicted"] = [model.classes[k] for k in np.argmax(out, axis=1)]
    report = {"model": result, "standardize": std, **report}
    if neurons:
        report["per_neuron"] = neuron_details(net, Xs, Ts)
    return report


def neuron_details(net: Network, X, T) -> list[list[dict]]:
    """Per layer, per neuron j: z_j, a_j, σ′(z_j), δ_j and how δ_j came about, ∂C/∂b_j and the row ∂C/∂W[j, :].

    A hidden neuron's δ_j = σ′(z_j) Σ_k W[k, j] δ_k gets one term W[k, j] δ_k from each neuron k of the layer
    above; an output neuron's δ comes from the loss: a_j − t_j for the canonical pairs, else (∂c/∂a ⊙ σ′)_j or,
    for softmax, Σ_k ∂c/∂a_k ∂a_k/∂z_j. Values are per sample (a number for one sample, a list for several).
    """
    trace = net.forward(X)
    grads = net.backward(trace, T)
    T = np.asarray(T, dtype=trace.z[-1].dtype)
    layers = []
    for l in range(net.L):
        g = net.activations[l]
        z, a, d = trace.z[l], trace.a[l], grads.delta[l]
        sp = g.df(z, a) if g.elementwise else None
        rows = []
        for j in range(net.sizes[l + 1]):
            entry = {"neuron": j + 1, "z": _value(z[:, j]), "a": _value(a[:, j]),
                     "sigma_prime": None if sp is None else _value(sp[:, j]), "delta": _value(d[:, j]),
                     "grad_bias": float(grads.b[l][j]), "grad_weights": grads.W[l][j].tolist()}
            if l < net.L - 1:
                W_up, d_up = net.W[l + 1], grads.delta[l + 1]
                entry["terms"] = [{"to": k + 1, "w": float(W_up[k, j]), "delta": _value(d_up[:, k]),
                                   "term": _value(W_up[k, j] * d_up[:, k])} for k in range(net.sizes[l + 2])]
            else:
                entry["t"] = _value(T[:, j])
            rows.append(entry)
        layers.append(rows)
    return layers


def trace(what, X, T, lr: float | None = None, neurons: bool = False) -> dict:
    """``dp.trace``: the trace of a trained model (X and T in its own units; :func:`model_report`) or of a network
    of either engine (:func:`report`)."""
    if hasattr(what, "net") and hasattr(what, "x_mean"):  # a trained model
        return model_report(what, X, T, lr, neurons)
    rep = report(what, X, T, lr)
    if neurons and isinstance(what, Network):
        rep["per_neuron"] = neuron_details(what, X, T)
    return rep
