"""The engine side of the playground page: what the page shows, computed by deltaprop's own engine.

Inspect mode holds a neuron-graph network *as its file* (the TOML document, a dict) and one batch (X, T).
Every edit changes a copy of the document, builds the network from it with the same reader as the CLI
(:func:`deltaprop.load_network`'s ``from_dict``) and runs the same trace (``deltaprop trace --json``); only when
that succeeds does the copy replace the state, so a bad formula changes nothing and its error is the CLI's.

Train mode lives in :mod:`.session`.
"""

from __future__ import annotations

import copy
import json
import math
import threading

import numpy as np

from ...checks import finite_number
from ...engine import losses as loss_mod
from ...engine.graph import GraphNetwork
from ...engine.layered import Network
from ...errors import DeltapropError
from ...files import netfile, safe
from ...limits import NETWORK_FILE_BYTES

MAX_DRAW_NEURONS = 300  # a drawing a person can read; the engine takes far more, the page does not
MAX_BATCH = 64  # samples an inspected batch keeps (the drawing shows one at a time)
MAX_FORMULA_CHARS = 500


def one_line(e: BaseException) -> str:
    """The error as the CLI prints it (after ``deltaprop: error:``)."""
    return " ".join(str(e).split())


def trace_report(net: GraphNetwork, X, T, lr: float | None = None) -> dict:
    """``deltaprop trace --json``'s report for a neuron graph."""
    from ...explain.trace import graph_report

    return graph_report(net, X, T, lr)


def clean(obj):
    """JSON-safe: NaN and ±Inf become the strings "NaN", "Inf", "-Inf" (the page shows them as such)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else ("NaN" if obj != obj else ("Inf" if obj > 0 else "-Inf"))
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return clean(obj.item())
    return obj


def parse_number(text, what: str) -> float:
    """A finite number from a field's text ("0.5", "-1e-3"); NaN, Inf and words are refused, named."""
    if isinstance(text, str):
        s = text.strip()
        try:
            text = float(s)
        except ValueError:
            raise DeltapropError(f"{what} must be a number, got {text!r}") from None
    return finite_number(text, what)


# --- inspect mode -------------------------------------------------------------------------------------------


def layered_to_graph_doc(net: Network, loss_doc: dict, source: str = "<network>") -> dict:
    """The neuron-graph document of a layered network: inputs x1, x2, …; hidden layer 1 A1, A2, …, layer 2 B1, …;
    outputs o1, o2, … (letters and digits only, so that derivations write z_A1, w_A1_o1)."""
    L = net.L
    ids = [[f"x{k + 1}" for k in range(net.sizes[0])]]
    for l in range(1, L + 1):
        prefix = "o" if l == L else (chr(ord("A") + l - 1) if l <= 25 else f"h{l}n")
        ids.append([f"{prefix}{j + 1}" for j in range(net.sizes[l])])
    neurons = {}
    for l in range(L):
        g = net.activations[l]
        if not g.elementwise:
            raise DeltapropError(f"{source}: layer {l + 1}: {g.name} couples its neurons; the playground draws networks of "
                                 "element-wise activations (use sigmoid outputs, or a neuron-level file)")
        for j, name in enumerate(ids[l + 1]):
            neurons[name] = {"activation": g.name,
                             "weights": {ids[l][k]: float(net.W[l][j, k]) for k in range(net.sizes[l])},
                             "bias": float(net.b[l][j])}
    return {"inputs": ids[0], "outputs": ids[-1], "neurons": neurons, "loss": dict(loss_doc)}


def _graph_doc(doc: dict, source: str) -> tuple[dict, tuple | None]:
    """(neuron-graph document, (X, T) from a layered file's [sample] or None) for a document of either form."""
    if "neurons" in doc:
        return doc, None
    net = netfile.from_dict(doc, source=source)
    if sum(net.sizes) > MAX_DRAW_NEURONS:  # refused before a dict of every weight is built
        raise DeltapropError(f"{source}: {sum(net.sizes)} neurons are too many to draw (limit {MAX_DRAW_NEURONS})")
    loss = {k: v for k, v in doc.get("loss", {}).items() if k in ("name", "formula", "reduction", "sigma2")}
    gdoc = layered_to_graph_doc(net, loss or {"name": net.loss.name}, source)
    xt = netfile.sample(doc, net, source)
    return gdoc, xt


def layered_ids(sizes: list[int]) -> list[list[str]]:
    """Neuron ids per layer, as :func:`layered_to_graph_doc` names them (x1…, A1…, B1…, o1…)."""
    L = len(sizes) - 1
    ids = [[f"x{k + 1}" for k in range(sizes[0])]]
    for l in range(1, L + 1):
        prefix = "o" if l == L else (chr(ord("A") + l - 1) if l <= 25 else f"h{l}n")
        ids.append([f"{prefix}{j + 1}" for j in range(sizes[l])])
    return ids


def layered_report(net: Network, X, T) -> dict:
    """The trace of a layered network (one whose output layer couples its neurons, e.g. softmax) in the shape of
    ``trace --json`` for neuron graphs, neuron by neuron: z, a, σ′ (None where the activation is not element-wise),
    δ = ∂c/∂z per sample, the terms w_jk δ_k each neuron receives, ∂C/∂W and ∂C/∂b of the batch."""
    trace = net.forward(X)
    grads = net.backward(trace, T)
    N = trace.X.shape[0]
    T = np.asarray(T, dtype=float).reshape(N, net.sizes[-1])  # backward has checked its shape
    ids = layered_ids(net.sizes)
    val = (lambda col: float(col[0])) if N == 1 else (lambda col: col.tolist())
    deltas = [grads.delta[l] for l in range(net.L)]

    def terms(l: int, k: int) -> list[dict]:  # neuron k of layer l (0: the inputs) feeds every neuron of l + 1
        if l >= net.L:
            return []
        W = net.W[l]
        return [{"to": ids[l + 1][j], "w": float(W[j, k]), "delta": val(deltas[l][:, j]),
                 "term": val(W[j, k] * deltas[l][:, j])} for j in range(net.sizes[l + 1])]

    dx = deltas[0] @ net.W[0]
    inputs = {ids[0][k]: {"x": val(trace.X[:, k]), "grad": val(dx[:, k]), "terms": terms(0, k)}
              for k in range(net.sizes[0])}
    neurons = {}
    a_out = trace.a[-1]
    dL_da = net.loss.grad(a_out, T) if net.loss.check is None or _safe_check(net.loss, a_out, T) else None
    for l in range(net.L):
        g = net.activations[l]
        sp = g.df(trace.z[l], trace.a[l]) if g.elementwise else None
        for j, name in enumerate(ids[l + 1]):
            entry = {"activation": g.name, "z": val(trace.z[l][:, j]), "a": val(trace.a[l][:, j]),
                     "sigma_prime": None if sp is None else val(sp[:, j]), "delta": val(deltas[l][:, j]),
                     "terms": terms(l + 1, j)}
            if l == net.L - 1:
                entry.update(output=True, t=val(T[:, j]), coupled=not g.elementwise,
                             dL_da=None if dL_da is None else val(dL_da[:, j]))
            neurons[name] = entry
    weights = {f"{ids[l][k]}->{ids[l + 1][j]}": {"from": ids[l][k], "to": ids[l + 1][j],
                                                "value": float(net.W[l][j, k]), "grad": float(grads.W[l][j, k])}
               for l in range(net.L) for j in range(net.sizes[l + 1]) for k in range(net.sizes[l])}
    biases = {ids[l + 1][j]: {"value": float(net.b[l][j]), "grad": float(grads.b[l][j])}
              for l in range(net.L) for j in range(net.sizes[l + 1])}
    return {"loss": float(grads.cost), "loss_name": net.loss.name, "reduction": net.reduction, "samples": N,
            "outputs": ids[-1], "inputs": inputs, "neurons": neurons, "weights": weights, "biases": biases}


def _safe_check(loss, a, t) -> bool:
    try:
        loss.check(a, t)
        return True
    except DeltapropError:
        return False


def _complete_layered_doc(doc: dict, net: Network) -> dict:
    """The layered document with every layer's weights and bias written out (an [init] drew them)."""
    out = copy.deepcopy(doc)
    for l, layer in enumerate(out["layer"]):
        layer["weights"] = net.W[l].tolist()
        layer["bias"] = net.b[l].tolist()
        layer.setdefault("activation", net.activations[l].name)
    out.pop("init", None)
    out.pop("sample", None)
    return out


class InspectState:
    """One network (its document) at one batch; every number on the page comes from :meth:`view`.

    A neuron graph, or a layered file whose activations are all element-wise, is held as a neuron-graph document
    (derivations work on it); a layered file with a coupled layer (softmax) is held as its layered document and
    traced by the layered engine (no derivations: ``derive`` is for neuron graphs)."""

    def __init__(self, doc: dict, source: str = "network.toml", X=None, T=None):
        self.lock = threading.Lock()
        self.source = source
        self.layered = False
        if "neurons" not in doc and "layer" in doc:
            lnet = netfile.from_dict(doc, source=source)
            if sum(lnet.sizes) > MAX_DRAW_NEURONS:  # refused before a dict of every weight is built
                raise DeltapropError(f"{source}: {sum(lnet.sizes)} neurons are too many to draw "
                                     f"(limit {MAX_DRAW_NEURONS})")
            self.layered = not all(g.elementwise for g in lnet.activations)
        if self.layered:
            net = lnet
            self.doc = _complete_layered_doc(doc, net)
            xt = netfile.sample(doc, net, source)
            ids = layered_ids(net.sizes)
            self.ids, self.inputs, self.outputs = [i for row in ids for i in row], ids[0], ids[-1]
            self.where = {i: (l, k) for l, row in enumerate(ids) for k, i in enumerate(row)}
        else:
            gdoc, xt = _graph_doc(doc, source)
            self.doc = copy.deepcopy(gdoc)
            net = netfile.from_dict(self.doc, source=source)
            if len(net.ids) > MAX_DRAW_NEURONS:
                raise DeltapropError(f"{source}: {len(net.ids)} neurons are too many to draw (limit {MAX_DRAW_NEURONS})")
            self.ids, self.inputs, self.outputs = net.ids, net.ids[:net.n_inputs], net.outputs
            if xt is None and X is None:
                xt = netfile.sample(self.doc, net, source)
        n_in, n_out = len(self.inputs), len(self.outputs)
        if X is None:
            X, T = xt if xt is not None else (np.zeros((1, n_in)), np.zeros((1, n_out)))  # no sample: zeros to edit
        try:
            X = np.array(X, float).reshape(-1, n_in)[:MAX_BATCH]
            T = np.array(T, float).reshape(-1, n_out)[:MAX_BATCH]
        except ValueError:
            raise DeltapropError(f"{source}: [sample] x needs {n_in} values and t {n_out}") from None
        self.X, self.T = X, T
        self.sample = 0
        self.net = net
        self.report = self._report(net, X, T)  # raises on a bad sample (e.g. a loss's domain): nothing kept

    def _report(self, net, X, T) -> dict:
        return layered_report(net, X, T) if self.layered else trace_report(net, X, T)

    def _set_weight(self, doc: dict, i: str, j: str, value: float) -> None:
        if self.layered:
            (li, k), (lj, jj) = self.where.get(i, (None, None)), self.where.get(j, (None, None))
            if li is None or lj is None or lj != li + 1:
                raise DeltapropError(f"no weight {i} → {j} in this network")
            doc["layer"][li]["weights"][jj][k] = value
            return
        neurons = doc["neurons"]
        if j not in neurons or i not in neurons[j].get("weights", {}):
            raise DeltapropError(f"no weight {i} → {j} in this network")
        neurons[j]["weights"][i] = value

    def _set_bias(self, doc: dict, j, value: float) -> None:
        if self.layered:
            l, jj = self._layer_of(j)
            doc["layer"][l]["bias"][jj] = value
        else:
            _neuron(doc["neurons"], j)["bias"] = value

    def _layer_of(self, j) -> tuple[int, int]:
        if not isinstance(j, str) or j not in self.where or self.where[j][0] == 0:
            raise DeltapropError(f"no neuron {j!r} with weights in this network")
        l, jj = self.where[j]
        return l - 1, jj

    @classmethod
    def from_toml(cls, text: str, source: str = "network.toml") -> InspectState:
        if len(text.encode("utf-8")) > NETWORK_FILE_BYTES:
            raise DeltapropError(f"{source}: larger than {NETWORK_FILE_BYTES // 2**20} MiB, the limit for a network file")
        return cls(safe.parse_toml(text, source), source)

    @classmethod
    def from_file(cls, path: str) -> InspectState:
        return cls(netfile.read_toml(path), str(path))

    # ---- what the page draws ----
    def view(self) -> dict:
        net = self.net
        neurons = {}
        if self.layered:
            for j, (l, jj) in self.where.items():
                neurons[j] = {"level": l, "input": l == 0, "output": j in self.outputs,
                              "activation": self.doc["layer"][l - 1]["activation"] if l else None,
                              "bias": self.doc["layer"][l - 1]["bias"][jj] if l else None}
            edges = [[w["from"], w["to"]] for w in self.report["weights"].values()]
        else:
            for k, j in enumerate(net.ids):
                spec = self.doc["neurons"].get(j, {})
                neurons[j] = {"level": int(net.level[k]), "input": k < net.n_inputs, "output": j in net.outputs,
                              "activation": spec.get("activation", self.doc.get("activation", "sigmoid"))
                              if k >= net.n_inputs else None,
                              "bias": spec.get("bias", 0.0) if k >= net.n_inputs else None}
            edges = [[i, j] for i, j in net.edges]
        loss = self.doc.get("loss", {})
        return clean({
            "source": self.source, "ids": self.ids, "inputs": self.inputs, "outputs": self.outputs,
            "layered": self.layered, "neurons": neurons, "edges": edges,
            "loss": loss.get("formula", loss.get("name", "quadratic")), "reduction": net.reduction,
            "samples": int(self.X.shape[0]), "sample": self.sample,
            "x": dict(zip(self.inputs, self.X[self.sample].tolist())),
            "t": dict(zip(self.outputs, self.T[self.sample].tolist())),
            "report": self.report,
        })

    # ---- edits ----
    def edit(self, field: str, key, value) -> None:
        """Change one thing: ``weight`` (key [i, j]), ``bias`` (j), ``activation`` (j), ``loss``, ``x`` (input id),
        ``t`` (output id) or ``sample`` (an index into the batch). Raises DeltapropError and changes nothing when
        the result is not a network the CLI would read."""
        with self.lock:
            doc, X, T, sample = copy.deepcopy(self.doc), self.X.copy(), self.T.copy(), self.sample
            if field == "weight":
                i, j = _pair(key)
                self._set_weight(doc, i, j, parse_number(value, f"weight w{i},{j}"))
            elif field == "bias":
                self._set_bias(doc, key, parse_number(value, f"bias b{key}"))
            elif field == "activation":
                text = _formula(value, f"neuron {key}: activation")
                if self.layered:  # one activation per layer in a layered file
                    doc["layer"][self._layer_of(key)[0]]["activation"] = text
                else:
                    _neuron(doc["neurons"], key)["activation"] = text
            elif field == "loss":
                text = _formula(value, "loss")
                keep = {k: v for k, v in doc.get("loss", {}).items() if k in ("reduction", "sigma2")}
                doc["loss"] = {**keep, ("name" if loss_mod.is_name(text) else "formula"): text}
            elif field in ("x", "t"):
                ids = self.inputs if field == "x" else self.outputs
                if key not in ids:
                    raise DeltapropError(f"{key!r} is not an {'input' if field == 'x' else 'output'} of this network")
                (X if field == "x" else T)[sample, ids.index(key)] = parse_number(value, f"{field}{key}")
            elif field == "sample":
                n = int(parse_number(value, "sample"))
                if not 0 <= n < X.shape[0]:
                    raise DeltapropError(f"sample must be 0 … {X.shape[0] - 1}, got {n}")
                sample = n
            else:
                raise DeltapropError(f"unknown field {field!r}")
            net = netfile.from_dict(doc, source=self.source)
            if self.layered and all(g.elementwise for g in net.activations):
                raise DeltapropError("this layered file is drawn as layers; to make every activation element-wise, "
                                     "download it, change the file and open it again")
            report = self._report(net, X, T)
            self.doc, self.X, self.T, self.sample, self.net, self.report = doc, X, T, sample, net, report

    def apply_update(self, lr) -> list[dict]:
        """w ← w − η ∂L/∂w for every weight and bias (the batch's gradient); returns old and new values."""
        with self.lock:
            eta = parse_number(lr, "learning rate")
            if eta <= 0:
                raise DeltapropError(f"learning rate must be > 0, got {eta:g}")
            doc = copy.deepcopy(self.doc)
            rows = []
            for key, r in self.report["weights"].items():
                new = r["value"] - eta * r["grad"]
                rows.append({"name": f"w{r['from']},{r['to']}", "old": r["value"], "grad": r["grad"], "new": new})
                if math.isfinite(new):
                    self._set_weight(doc, r["from"], r["to"], new)
            for j, r in self.report["biases"].items():
                new = r["value"] - eta * r["grad"]
                rows.append({"name": f"b{j}", "old": r["value"], "grad": r["grad"], "new": new})
                if math.isfinite(new):
                    self._set_bias(doc, j, new)
            if not all(math.isfinite(r["new"]) for r in rows):
                raise DeltapropError("the update gives NaN or Inf (a gradient overflowed); try a smaller learning rate")
            net = netfile.from_dict(doc, source=self.source)
            report = self._report(net, self.X, self.T)
            self.doc, self.net, self.report = doc, net, report
            return clean(rows)

    # ---- derivations ----
    def derivation(self, kind: str, key, lr=None, notation: str = "exam") -> str:
        """The ``derive --format markdown`` text for ∂L/∂z_j (kind "z"), ∂L/∂b_j ("b") or ∂L/∂w_ij ("w")."""
        from ...cli import derive as derive_cli  # the CLI's renderer, shared rather than copied
        from ...explain import symbolic as S

        if self.layered:
            coupled = next(g.name for g in self.net.activations if not g.elementwise)
            raise DeltapropError(f"derivations are for neuron-level networks, and this file's {coupled} layer couples "
                                 "its neurons: its numbers are on the drawing, from the layered engine")
        with self.lock:
            net, X, T, n = self.net, self.X, self.T, self.sample
        eta = None if lr in (None, "") else parse_number(lr, "learning rate")
        d = S.Deriver(net, X[n:n + 1], T[n:n + 1])
        if kind == "w":
            i, j = _pair(key)
            if (i, j) not in d.w:
                raise DeltapropError(f"no weight {i} → {j} in this network")
            name = d.w[i, j].name
        elif kind in ("z", "b", "a"):
            table = {"z": d.z, "b": d.b, "a": d.a}[kind]
            if key not in table:
                raise DeltapropError(f"no {kind}{key} in this network")
            name = table[key].name
        else:
            raise DeltapropError(f"unknown quantity {kind!r}")
        r = d.derive(name)
        if notation not in S.NOTATIONS:
            raise DeltapropError(f"unknown notation {notation!r}; choose from {', '.join(S.NOTATIONS)}")
        text = derive_cli.render(d, r, "markdown", notation, True, eta)
        if X.shape[0] > 1:
            text = f"*At sample {n + 1} of the batch of {X.shape[0]} alone.*\n\n" + text
        return text

    # ---- the file ----
    def to_toml(self) -> str:
        """The network and the current sample as a neuron-level file the CLI reads."""
        with self.lock:
            doc = copy.deepcopy(self.doc)
            x, t = self.X[self.sample], self.T[self.sample]
        if self.layered:
            doc["sample"] = {"x": [float(v) for v in x], "t": [float(v) for v in t]}
        else:
            doc["sample"] = {"x": dict(zip(self.inputs, map(float, x))), "t": dict(zip(self.outputs, map(float, t)))}
        return dump_toml(doc)


def _pair(key) -> tuple[str, str]:
    if not (isinstance(key, (list, tuple)) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        raise DeltapropError(f"a weight is named by [from, into], got {key!r}")
    return key[0], key[1]


def _neuron(neurons: dict, key) -> dict:
    if not isinstance(key, str) or key not in neurons:
        raise DeltapropError(f"no neuron {key!r} with weights in this network")
    return neurons[key]


def _formula(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeltapropError(f"{what}: give a name or a formula")
    if len(value) > MAX_FORMULA_CHARS:
        raise DeltapropError(f"{what}: longer than {MAX_FORMULA_CHARS} characters")
    return value.strip()


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise DeltapropError("cannot write NaN or Inf into a network file")
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise DeltapropError(f"cannot write {type(v).__name__} into a network file")


def dump_toml(doc: dict) -> str:
    """A network document as TOML in the examples' own layout: top-level keys, [neurons."id"] with the weights as
    one inline table, [[layer]], [loss], [sample] (tomli-w, the project's writer for run files, cannot write
    inline tables: a neuron's weights would become a sub-table of their own, harder to read and edit)."""
    lines = ["# written by deltaprop playground; read it with `deltaprop trace FILE`"]
    tables = {k: v for k, v in doc.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for k, v in doc.items():
        if k not in tables and k not in arrays:
            lines.append(f"{k} = {_toml_value(v)}")
    for name, items in arrays.items():
        for table in items:
            lines += ["", f"[[{name}]]"]
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    for j, spec in tables.pop("neurons", {}).items():
        lines += ["", f"[neurons.{json.dumps(str(j))}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --- train mode ---------------------------------------------------------------------------------------------
