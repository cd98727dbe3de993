"""A trained model as an ONNX graph (opset ≥ 17): X → (X − x_mean)/x_scale → per layer z = a Wᵀ + b, a = σ(z) →
``probabilities`` and ``label`` (classifiers) or ``output`` = aᴸ·t_scale + t_mean (regressors). Built-in
activations map to ONNX operators; a formula activation is translated from its SymPy tree where ONNX has the
operators, and refused clearly otherwise. onnx is imported inside the functions."""

from __future__ import annotations

import json

import numpy as np

from ..engine.activations import LEAKY_SLOPE
from ..errors import DeltapropError
from .models import as_model

OPSET = 17
ONNX_ACTIVATIONS = {"identity": "Identity", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                    "softplus": "Softplus", "softmax": "Softmax"}  # leaky_relu and square: see _activation


def _layer_names(model) -> list[str]:
    return [g.name for g in model.net.activations]


class OnnxGraph:
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


def formula_to_onnx(g: OnnxGraph, expr, z_name: str, text: str) -> str:
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


def _activation(g: OnnxGraph, act, z: str, layer: int) -> str:
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
    g = OnnxGraph(dtype)
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
