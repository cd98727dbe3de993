"""A trained model as a PyTorch ``nn.Sequential`` [Standardize, Linear, σ, …, Linear, σᴸ(, Unstandardize)] and its
``state_dict`` in safetensors (never pickle) with the module list as metadata; and a Sequential trained in
PyTorch saved the same way (:func:`save_torch`), which ``dp.load_model`` reads. torch is imported inside the
functions; the state_dict itself is made with NumPy alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.activations import LEAKY_SLOPE
from ..errors import DeltapropError
from ..files import modelfile, safe, tensorfile
from ..training.model import Model
from ..training.model import load as load_model
from .models import as_model

Array = np.ndarray
TORCH_MODULES = {v: k for k, v in tensorfile.TORCH_ACTIVATIONS.items()}  # our name -> torch module name


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
    data = tensorfile.encode(state, {**meta, "task": model.task, "classes": model.classes})
    safe.write_atomic(path, lambda f: f.write(data), "wb")
    return path
