"""deltaprop: feed-forward networks trained by backpropagation, with every step shown.

    import deltaprop as dp
    net = dp.Network([2, 3, 1], "tanh", "quadratic", output="identity", seed=0)
    grads = net.loss_and_grads(X, T)         # δ, ∂C/∂W, ∂C/∂b, ∂C/∂X and the cost
    run = dp.fit("digits", epochs=30, out="runs/digits")   # mini-batch training; run.model, run.metrics
    dp.predict(run.model, X), dp.evaluate(run.model, X, T), dp.load_model("runs/digits/model.npz")
"""

from .engine.activations import ACTIVATIONS, Activation
from .errors import DeltapropError, DeltapropTypeError
from .explain.gradcheck import GradcheckReport, gradcheck, numeric_gradients
from .engine.layered import INITS, Grads, Network, Trace
from .engine.losses import LOSSES, Loss
from .files.netfile import NetworkFile, Sample
from .files.netfile import load as load_network
from .files.netfile import read as read_network
from .files.bundled import path as example
from .data import Dataset
from .data import load as load_data
from .training.config import TrainConfig
from .training.model import Model, evaluate, predict
from .training.model import load as load_model
from .training.train import Run, fit, resume

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Activation", "DeltapropError", "DeltapropTypeError", "GradcheckReport", "gradcheck",
    "numeric_gradients", "INITS", "Grads", "Network", "Trace", "LOSSES", "Loss", "load_network", "read_network",
    "example", "NetworkFile", "Sample",
    "__version__",
    "Model", "load_model", "Dataset", "load_data", "Run", "TrainConfig", "evaluate", "fit", "predict", "resume",
]

# neuron graphs, formulas and derivations (issue 4). SymPy is imported only when a derivation is asked for.
from .engine.graph import GraphGrads, GraphNetwork, GraphTrace  # noqa: E402
from .engine.protocol import Engine, Gradients  # noqa: E402

__all__ += ["GraphNetwork", "GraphTrace", "GraphGrads", "Engine", "Gradients", "derive", "likelihood"]


# Jupyter's displays (HTML, drawings, worked solutions), short reprs, net.draw() and run.plot(): attached here,
# at the API root, because the engine, explain and training wings may not import view/ (issue 14)
from .view import notebook as _notebook  # noqa: E402

_notebook.install()
trace = _notebook.trace  # dp.trace(net or model, X, T, lr=K): the trace of a batch, shown as tables in Jupyter
__all__ += ["trace"]


def __getattr__(name):
    if name in ("derive", "likelihood"):
        from .explain import symbolic

        _notebook.install_symbolic(symbolic)
        return getattr(symbolic, name)
    raise AttributeError(f"module 'deltaprop' has no attribute {name!r}")
