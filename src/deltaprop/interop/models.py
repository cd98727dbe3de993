"""What can be exported: a trained model, from a Model, a layered Network or a file (model.npz, .safetensors,
or a layered network file with its ``[standardize]`` and ``[model]`` tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..checks import finite_array
from ..engine.layered import Network
from ..errors import DeltapropError
from ..files import netfile
from ..training.model import Model
from ..training.model import load as load_model


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
