"""Model exchange: a trained model out to ONNX, PyTorch, safetensors and TOML, and back in.

Every target carries the whole model, preprocessing included, so that its outputs are the model's:

- **ONNX** (opset ≥ 17): ``X`` (N, n_in) → (X − x_mean)/x_scale → per layer z = a Wᵀ + b, a = σ(z) → for a
  classifier ``probabilities`` (the softmax outputs, N × K) and ``label`` (their argmax, int64, an index into
  the ``classes`` metadata); for a regressor ``output`` = aᴸ·t_scale + t_mean. Built-in activations map to
  ONNX operators; formula activations are translated from their SymPy tree where ONNX has the operators.
- **PyTorch**: an ``nn.Sequential`` [Standardize, Linear, σ, …, Linear, σᴸ(, Unstandardize)] and its
  ``state_dict`` saved with safetensors (never pickle) plus the module list as metadata; such a file, also one
  written by :func:`save_torch` from a network trained in PyTorch, reads back with ``dp.load_model``.
- **safetensors**: the arrays of ``model.npz`` under the same names with the same metadata, bit for bit.
- **TOML**: a layered network file with its weights (``trace``, ``gradcheck`` read it) and a ``[standardize]``
  table with the preprocessing.

Heavy libraries (onnx, torch, safetensors) are imported inside the functions that need them. Every file is
written to a temporary file beside the target and renamed only when complete, so a refused export writes
nothing and a failed one leaves whatever was there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..checks import finite_array
from ..engine.activations import ACTIVATIONS, LEAKY_SLOPE
from ..engine.layered import Network
from ..engine.losses import LOSSES
from ..errors import DeltapropError
from ..files import modelfile, netfile, safe, tensorfile
from ..training.model import Model
from ..training.model import load as load_model

Array = np.ndarray
TARGETS = ("onnx", "torch", "safetensors", "toml")
OPSET = 17
ONNX_ACTIVATIONS = {"identity": "Identity", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                    "softplus": "Softplus", "softmax": "Softmax"}  # leaky_relu and square: see _activation
TORCH_MODULES = {v: k for k, v in tensorfile.TORCH_ACTIVATIONS.items()}  # our name -> torch module name


# --- what can be exported -------------------------------------------------------------------------------------


def as_model(obj) -> Model:
    """A trained model from a Model, a layered Network (no preprocessing), or a file: model.npz,
    model.safetensors, or a layered network file (.toml, with its optional [standardize])."""
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, Network):
        return model_of_network(obj)
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if path.suffix == ".toml":
            return load_toml(path)
        return load_model(path)
    raise DeltapropError(f"cannot export a {type(obj).__name__}: give a trained model, a layered Network or a "
                         f"model file")


def model_of_network(net: Network, standardize: dict | None = None, task: str | None = None,
                     classes: list[str] | None = None, source: str = "network") -> Model:
    """A Model around a layered network: inputs standardized by ``standardize`` (x_mean, x_scale[, t_mean,
    t_scale]) or not at all; a softmax output makes it a classifier unless ``task`` says otherwise."""
    if not isinstance(net, Network):
        raise DeltapropError(f"{source}: a neuron-level network (a graph) cannot be exported; export works on "
                             "layered networks and trained models")
    n_in, n_out = net.sizes[0], net.sizes[-1]
    s = standardize or {}
    task = task or ("classification" if net.activations[-1].name == "softmax" else "regression")

    def vec(key, n, default):
        v = s.get(key)
        if v is None:
            return np.full(n, default, dtype=np.float64)
        v = np.asarray(finite_array(v, (n,), f"{source}: [standardize] {key}"), dtype=np.float64)
        if key.endswith("scale") and np.any(v <= 0):
            raise DeltapropError(f"{source}: [standardize] {key} must be > 0")
        return v

    t_mean = vec("t_mean", n_out, 0.0) if task == "regression" else None
    t_scale = vec("t_scale", n_out, 1.0) if task == "regression" else None
    if task == "classification" and classes is None:
        classes = [str(k) for k in range(n_out)]
    return Model(net, task, vec("x_mean", n_in, 0.0), vec("x_scale", n_in, 1.0), t_mean, t_scale, classes)


def _layer_names(model) -> list[str]:
    return [g.name for g in model.net.activations]


# --- writing files ------------------------------------------------------------------------------------------------


def _write_bytes(path: Path, data: bytes) -> None:
    """``data`` into a temporary file beside ``path``, fsynced, then renamed over it."""
    safe.write_atomic(path, lambda f: f.write(data), "wb")


def export(model, path: str | Path, to: str | None = None, **options) -> Path:
    """Write ``model`` (see :func:`as_model`) as ``to`` (onnx, torch, safetensors, toml; default from the
    suffix of ``path``). Everything is built and checked in memory first; the file appears only when complete."""
    path = Path(path)
    to = to or {".onnx": "onnx", ".safetensors": "safetensors", ".toml": "toml"}.get(path.suffix)
    if to not in TARGETS:
        raise DeltapropError(f"unknown export target {to!r}; choose from {', '.join(TARGETS)}")
    if not path.parent.is_dir():
        raise DeltapropError(f"{path.parent}: no such directory to write {path.name} into")
    model = as_model(model)
    if to == "onnx":
        data = to_onnx(model, **options).SerializeToString()
    elif to == "torch":
        data = tensorfile.encode(*torch_state(model))
    elif to == "safetensors":
        data = tensorfile.encode(*model_arrays(model))
    else:
        form = options.pop("form", "layers")
        if form not in ("layers", "neurons"):
            raise DeltapropError(f"TOML form must be layers or neurons, got {form!r}")
        data = (to_toml if form == "layers" else to_graph_toml)(model, **options).encode("utf-8")
    _write_bytes(path, data)
    return path


# --- safetensors: the model file's arrays, bit for bit -----------------------------------------------------------


def check_model_file_ready(model) -> None:
    """Model files name activations and losses from the registries only (a formula would have to be parsed
    again on reading); refuse a model with formulas before anything is written."""
    formulas = [g.name for g in model.net.activations if g.name not in ACTIVATIONS]
    if model.net.loss.name not in LOSSES:
        formulas.append(model.net.loss.name)
    if formulas:
        raise DeltapropError(f"a model file holds built-in activations and losses only, not the formula(s) "
                             f"{', '.join(map(repr, formulas))}: export it as TOML instead (--to toml)")


def model_arrays(model) -> tuple[dict[str, Array], dict]:
    """The arrays and metadata of ``model.npz`` (the same names, values and dtypes)."""
    check_model_file_ready(model)
    meta = {"format": modelfile.FORMAT, "version": modelfile.VERSION, "network": modelfile.network_meta(model.net),
            "task": model.task, "classes": model.classes, "feature_names": model.feature_names,
            "target_names": model.target_names, "info": model.info}
    arrays = modelfile.network_arrays(model.net)
    arrays.update(x_mean=model.x_mean, x_scale=model.x_scale)
    if model.task == "regression":
        arrays.update(t_mean=model.t_mean, t_scale=model.t_scale)
    return arrays, meta


# --- TOML: a layered network file with weights -----------------------------------------------------------------


def _num(x) -> str:
    x = float(x)
    if not math.isfinite(x):
        raise DeltapropError(f"cannot write {x} to a network file")
    return repr(x)  # the shortest text that reads back to the same double (and float32 values exactly)


def _vec(v) -> str:
    return "[" + ", ".join(_num(x) for x in np.asarray(v).ravel()) + "]"


def _strings(v) -> str:
    return "[" + ", ".join(json.dumps(str(s)) for s in v) + "]"


def to_toml(model, source: str | None = None) -> str:
    """The model as a layered network file: weights and biases in full precision, the loss, and the
    preprocessing in ``[standardize]`` (the network itself sees (x − x_mean)/x_scale)."""
    model = as_model(model)
    net = model.net
    lines = [f"# deltaprop model{f' exported from {source}' if source else ''}: the network sees standardized "
             "inputs (x - x_mean) / x_scale (see [standardize])",
             f"inputs = {net.sizes[0]}", f"dtype = {json.dumps(net.dtype.name)}"]
    for l in range(net.L):
        g = net.activations[l]
        lines += ["", "[[layer]]", f"size = {net.sizes[l + 1]}", f"activation = {json.dumps(g.name)}",
                  "weights = [" + ", ".join(_vec(row) for row in net.W[l]) + "]", f"bias = {_vec(net.b[l])}"]
    return "\n".join(lines + _tail(model)) + "\n"


def to_graph_toml(model, source: str | None = None) -> str:
    """The model as a neuron-level network file (what ``derive`` reads today): inputs x1 …, hidden neurons
    h{l}n{j} (layer l, neuron j), outputs o1 …; w_ij = W[j, i] of each layer, from neuron i into neuron j."""
    model = as_model(model)
    net = model.net
    if not all(g.elementwise for g in net.activations):
        raise DeltapropError("softmax couples the output neurons, which a neuron-level file cannot hold: export "
                             "the layered form (deltaprop export … --to toml)")
    names = [[f"x{k + 1}" for k in range(net.sizes[0])]]
    names += [[f"h{l + 1}n{j + 1}" for j in range(n)] for l, n in enumerate(net.sizes[1:-1])]
    names.append([f"o{j + 1}" for j in range(net.sizes[-1])])
    lines = [f"# deltaprop model{f' exported from {source}' if source else ''}, neuron by neuron: the network "
             "sees standardized inputs (x - x_mean) / x_scale (see [standardize])",
             f"inputs = {_strings(names[0])}", f"outputs = {_strings(names[-1])}", f"dtype = {json.dumps(net.dtype.name)}"]
    for l in range(net.L):
        for j, name in enumerate(names[l + 1]):
            weights = ", ".join(f"{json.dumps(i)} = {_num(net.W[l][j, k])}" for k, i in enumerate(names[l]))
            lines += ["", f"[neurons.{json.dumps(name)}]", f"activation = {json.dumps(net.activations[l].name)}",
                      f"weights = {{ {weights} }}", f"bias = {_num(net.b[l][j])}"]
    lines += _tail(model)
    return "\n".join(lines) + "\n"


def _tail(model) -> list[str]:
    """[loss], [standardize] and [model], shared by both forms of network file."""
    net = model.net
    lines = ["", "[loss]", f"{'name' if net.loss.name in LOSSES else 'formula'} = {json.dumps(net.loss.name)}",
             f"reduction = {json.dumps(net.reduction)}"]
    lines += [f"{k} = {_num(v)}" for k, v in (net.loss.params or {}).items()]
    lines += ["", "[standardize]", f"x_mean = {_vec(model.x_mean)}", f"x_scale = {_vec(model.x_scale)}"]
    if model.task == "regression":
        lines += ["# the network's targets are (t - t_mean) / t_scale; its outputs times t_scale plus t_mean "
                  "are the model's", f"t_mean = {_vec(model.t_mean)}", f"t_scale = {_vec(model.t_scale)}"]
    lines += ["", "[model]", f"task = {json.dumps(model.task)}"]
    if model.classes is not None:
        lines.append(f"classes = {_strings(model.classes)}")
    if model.feature_names is not None:
        lines.append(f"feature_names = {_strings(model.feature_names)}")
    return lines


def load_toml(path: str | Path):
    """A Model from a layered network file, with its [standardize] and [model] tables if present."""
    doc = netfile.read_toml(path)
    net = netfile.from_dict(doc, source=str(path))
    if not isinstance(net, Network):
        raise DeltapropError(f"{path}: a neuron-level network (a graph) cannot be exported; export works on "
                             "layered networks and trained models")
    meta = doc.get("model") or {}
    std = doc.get("standardize") or {}
    if not isinstance(meta, dict) or not isinstance(std, dict):
        raise DeltapropError(f"{path}: [model] and [standardize] must be tables")
    task = meta.get("task")
    if task not in (None, "classification", "regression"):
        raise DeltapropError(f"{path}: [model] task must be \"classification\" or \"regression\", got {task!r}")
    classes = meta.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) != net.sizes[-1]
                                or not all(isinstance(c, str) for c in classes)):
        raise DeltapropError(f"{path}: [model] classes must list {net.sizes[-1]} names")
    model = model_of_network(net, std, task, classes, source=str(path))
    names = meta.get("feature_names")
    if names is not None:
        if not isinstance(names, list) or len(names) != net.sizes[0] or not all(isinstance(c, str) for c in names):
            raise DeltapropError(f"{path}: [model] feature_names must list {net.sizes[0]} names")
        model.feature_names = names
    return model


# --- ONNX -----------------------------------------------------------------------------------------------------


class _OnnxGraph:
    """Nodes and initializers of one ONNX graph, with fresh names."""

    def __init__(self, dtype):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.dtype = np.dtype(dtype)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def const(self, value, stem: str = "c") -> str:
        name = self.name(stem)
        self.inits.append(self.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def op(self, op: str, *inputs: str, out: str | None = None, **attrs) -> str:
        out = out or self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], **attrs))
        return out


def _sympy_onnx_ops():
    import sympy as sp

    from ..engine import formulas

    return {sp.exp: "Exp", sp.log: "Log", sp.Abs: "Abs", sp.sin: "Sin", sp.cos: "Cos", sp.tan: "Tan",
            sp.sinh: "Sinh", sp.cosh: "Cosh", sp.tanh: "Tanh", sp.asinh: "Asinh", sp.atan: "Atan", sp.erf: "Erf",
            formulas.sigma: "Sigmoid", sp.sign: "Sign"}


def formula_to_onnx(g: _OnnxGraph, expr, z_name: str, text: str) -> str:
    """ONNX nodes computing the SymPy expression ``expr`` of z (the tensor ``z_name``), element by element."""
    import sympy as sp

    from ..engine import formulas

    ops = _sympy_onnx_ops()

    def build(e) -> str:
        if e == formulas.z:
            return z_name
        if e.is_Number or e in (sp.pi, sp.E):
            return g.const(float(e))
        if e.is_Add or e.is_Mul:
            args = [build(x) for x in e.args]
            out = args[0]
            for x in args[1:]:
                out = g.op("Add" if e.is_Add else "Mul", out, x)
            return out
        if e.is_Pow:
            base, p = e.args
            b = build(base)
            if p == 2:
                return g.op("Mul", b, b)
            if p == -1:
                return g.op("Reciprocal", b)
            if p == sp.Rational(1, 2):
                return g.op("Sqrt", b)
            return g.op("Pow", b, build(p))
        if e.func in ops and len(e.args) == 1:
            return g.op(ops[e.func], build(e.args[0]))
        if e.func in (sp.Max, sp.Min):
            return g.op("Max" if e.func is sp.Max else "Min", *(build(x) for x in e.args))
        if e.func is sp.Heaviside:  # θ(z) with θ(0) = 0, as the engine computes it (NumPy's heaviside(z, 0))
            return g.op("Cast", g.op("Greater", build(e.args[0]), g.const(0.0)),
                        to=g.helper.np_dtype_to_tensor_dtype(g.dtype))
        raise DeltapropError(f"activation formula {text!r}: ONNX has no operator for {e.func.__name__} "
                             f"(in {e}); it cannot be exported to ONNX")

    return build(expr)


def _activation(g: _OnnxGraph, act, z: str, layer: int) -> str:
    name = act.name
    if name in ONNX_ACTIVATIONS:
        attrs = {"axis": -1} if name == "softmax" else {}
        return g.op(ONNX_ACTIVATIONS[name], z, **attrs)
    if name == "leaky_relu":
        return g.op("LeakyRelu", z, alpha=LEAKY_SLOPE)
    if name == "square":
        return g.op("Mul", z, z)
    if act.formula is None or not act.elementwise:
        raise DeltapropError(f"layer {layer}: activation {name!r} has no ONNX operator and no formula")
    from ..engine import formulas

    return formula_to_onnx(g, formulas.activation_expr(act.formula), z, act.formula)


def to_onnx(model, dtype: str = "float32", opset: int = OPSET):
    """The model as an ``onnx.ModelProto`` (checked by onnx's checker), in float32 (default) or float64."""
    import onnx
    from onnx import TensorProto, helper

    model = as_model(model)
    if opset < 17:
        raise DeltapropError(f"ONNX export needs opset ≥ 17, got {opset}")
    if dtype not in ("float32", "float64"):
        raise DeltapropError(f"ONNX export: dtype must be float32 or float64, got {dtype!r}")
    net = model.net
    g = _OnnxGraph(dtype)
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    a = g.op("Div", g.op("Sub", "X", g.const(model.x_mean, "x_mean")), g.const(model.x_scale, "x_scale"),
             out="x_standardized")
    for l in range(net.L):
        z = g.op("Add", g.op("MatMul", a, g.const(net.W[l].T, f"W{l + 1}_T")), g.const(net.b[l], f"b{l + 1}"),
                 out=f"z{l + 1}")
        a = _activation(g, net.activations[l], z, l + 1)
    n_out = net.sizes[-1]
    if model.task == "classification":
        outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                   helper.make_tensor_value_info("probabilities", elem, ["N", n_out])]
        g.op("Identity", a, out="probabilities")
        g.op("ArgMax", a, out="label", axis=1, keepdims=0)
    else:
        outputs = [helper.make_tensor_value_info("output", elem, ["N", n_out])]
        g.op("Add", g.op("Mul", a, g.const(model.t_scale, "t_scale")), g.const(model.t_mean, "t_mean"),
             out="output")
    graph = helper.make_graph(g.nodes, "deltaprop", [helper.make_tensor_value_info("X", elem, ["N", net.sizes[0]])],
                              outputs, g.inits)
    from .. import __version__

    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="deltaprop", producer_version=__version__)
    onnx_model.ir_version = min(onnx_model.ir_version, 9)  # readable by onnxruntime releases of recent years
    meta = {"task": model.task, "activations": json.dumps(_layer_names(model))}
    if model.classes is not None:
        meta["classes"] = json.dumps(model.classes)
    helper.set_model_props(onnx_model, meta)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


# --- PyTorch ------------------------------------------------------------------------------------------------------


def torch_state(model) -> tuple[dict[str, Array], dict]:
    """The ``state_dict`` (as NumPy arrays) and metadata of the model's ``nn.Sequential``; no torch needed."""
    model = as_model(model)
    net = model.net
    modules, state = ["Standardize"], {"0.mean": model.x_mean, "0.scale": model.x_scale}
    for l in range(net.L):
        act = net.activations[l]
        if act.name not in TORCH_MODULES:
            raise DeltapropError(f"layer {l + 1}: the activation {act.name!r} has no PyTorch module; the PyTorch "
                                 f"export takes {', '.join(TORCH_MODULES)}")
        i = len(modules)
        modules.append("Linear")
        state[f"{i}.weight"], state[f"{i}.bias"] = net.W[l], net.b[l]
        if act.name != "identity":
            modules.append(TORCH_MODULES[act.name])
    if model.task == "regression":
        i = len(modules)
        modules.append("Unstandardize")
        state[f"{i}.mean"], state[f"{i}.scale"] = model.t_mean, model.t_scale
    dt = net.dtype
    state = {k: np.ascontiguousarray(v, dtype=dt) for k, v in state.items()}
    meta = {"format": tensorfile.TORCH_FORMAT, "version": 1, "modules": modules, "task": model.task,
            "classes": model.classes, "loss": net.loss.name, "loss_params": net.loss.params,
            "reduction": net.reduction, "feature_names": model.feature_names, "target_names": model.target_names}
    return state, meta


def torch_modules():
    """The three small modules a model needs beyond PyTorch's own: Standardize, Unstandardize, Square."""
    import torch
    from torch import nn

    class Standardize(nn.Module):
        """(x − mean) / scale, the model's input preprocessing."""

        def __init__(self, mean, scale):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean).clone())
            self.register_buffer("scale", torch.as_tensor(scale).clone())

        def forward(self, x):
            return (x - self.mean) / self.scale

    class Unstandardize(nn.Module):
        """a · scale + mean: the network's outputs in the targets' own units (regression)."""

        def __init__(self, mean, scale):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean).clone())
            self.register_buffer("scale", torch.as_tensor(scale).clone())

        def forward(self, a):
            return a * self.scale + self.mean

    class Square(nn.Module):
        """ρ(z) = z²."""

        def forward(self, z):
            return z * z

    return {"Standardize": Standardize, "Unstandardize": Unstandardize, "Square": Square}


def _torch_sequential(state: dict[str, Array], modules: list[str]):
    import torch
    from torch import nn

    extra = torch_modules()
    layers = []
    for i, kind in enumerate(modules):
        if kind in ("Standardize", "Unstandardize"):
            layers.append(extra[kind](torch.from_numpy(state[f"{i}.mean"]), torch.from_numpy(state[f"{i}.scale"])))
        elif kind == "Linear":
            W = torch.from_numpy(state[f"{i}.weight"].copy())
            lin = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype)
            with torch.no_grad():
                lin.weight.copy_(W)
                lin.bias.copy_(torch.from_numpy(state[f"{i}.bias"].copy()))
            layers.append(lin)
        elif kind == "Square":
            layers.append(extra["Square"]())
        elif kind == "LeakyReLU":
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
        elif kind == "Softplus":
            layers.append(nn.Softplus(beta=1.0, threshold=SOFTPLUS_THRESHOLD))
        elif kind == "Softmax":
            layers.append(nn.Softmax(dim=-1))
        else:
            layers.append(getattr(nn, kind)())
    return nn.Sequential(*layers)


# PyTorch's Softplus returns z itself above its threshold (default 20), off from log(1 + e^z) by e^−z/z: 1e-10
# relative at 20. Above 40 that is below 1e-19, under double precision's resolution, so the two agree everywhere.
SOFTPLUS_THRESHOLD = 40.0


def to_torch(model):
    """The model as an ``nn.Sequential`` in the network's dtype (float64 unless trained in float32)."""
    state, meta = torch_state(model)
    return _torch_sequential(state, meta["modules"])


def load_torch(path: str | Path):
    """An ``nn.Sequential`` from a file written by ``export(…, to="torch")`` or :func:`save_torch` (read as data:
    the safetensors header is checked, nothing is unpickled)."""
    model = load_model(path)  # checks the whole file first, whichever kind it is
    return to_torch(model)


def save_torch(module, path: str | Path, *, task: str | None = None, classes: list[str] | None = None,
               loss: str | None = None, reduction: str = "mean", feature_names: list[str] | None = None) -> Path:
    """Save an ``nn.Sequential`` trained in PyTorch (Linear layers with the activations deltaprop knows) as a
    safetensors file that ``dp.load_model`` reads, so its backprop can be traced here."""
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise DeltapropError(f"save_torch takes an nn.Sequential, got {type(module).__name__}")
    names = []
    for i, m in enumerate(module):
        kind = type(m).__name__
        if isinstance(m, nn.LeakyReLU):
            if m.negative_slope != LEAKY_SLOPE:
                raise DeltapropError(f"module {i}: LeakyReLU slope {m.negative_slope}; deltaprop's leaky_relu "
                                     f"has {LEAKY_SLOPE}")
        elif isinstance(m, nn.Softplus) and m.beta != 1:
            raise DeltapropError(f"module {i}: Softplus with beta {m.beta}; deltaprop's softplus has beta 1")
        elif isinstance(m, nn.Softmax) and m.dim not in (1, -1):
            raise DeltapropError(f"module {i}: Softmax over dim {m.dim}; a layer's softmax is over its units")
        if kind not in ("Linear", "Standardize", "Unstandardize", *tensorfile.TORCH_ACTIVATIONS):
            raise DeltapropError(f"module {i} is a {kind}; a layered network is Linear layers, each followed by "
                                 f"one of {', '.join(tensorfile.TORCH_ACTIVATIONS)}")
        names.append(kind)
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    meta = {"format": tensorfile.TORCH_FORMAT, "version": 1, "modules": names, "task": task, "classes": classes,
            "loss": loss, "reduction": reduction, "feature_names": feature_names}
    # refuse here what loading would refuse
    model = Model(**modelfile.from_arrays(*tensorfile.model_arrays_from_torch(state, meta, "the module"),
                                          "the module"))
    path = Path(path)
    _write_bytes(path, tensorfile.encode(state, {**meta, "task": model.task, "classes": model.classes}))
    return path
