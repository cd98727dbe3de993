"""deltaprop: feed-forward networks trained by backpropagation, with every step shown.

    import deltaprop as dp
    net = dp.Network([2, 3, 1], "tanh", "quadratic", output="identity", seed=0)
    grads = net.loss_and_grads(X, T)         # δ, ∂C/∂W, ∂C/∂b, ∂C/∂X and the cost
    run = dp.fit("digits", epochs=30, out="runs/digits")   # mini-batch training; run.model, run.metrics
    dp.predict(run.model, X), dp.evaluate(run.model, X, T), dp.load_model("runs/digits/model.npz")
"""

from .errors import DeltapropError, DeltapropTypeError

__version__ = "0.1.0"

# Every public name, and the module it lives in. They are imported on first use (the module-level __getattr__
# below), so `import deltaprop` costs a few milliseconds and loads neither NumPy's BLAS nor SymPy, SciPy,
# matplotlib, scikit-learn, rich or pandas; `from deltaprop import Network` and `dp.Network` work as before.
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("engine.activations", name) for name in ("ACTIVATIONS", "Activation")},
    **{name: ("explain.gradcheck", name) for name in ("GradcheckReport", "gradcheck", "numeric_gradients")},
    **{name: ("engine.layered", name) for name in ("INITS", "Grads", "Network", "Trace")},
    **{name: ("engine.losses", name) for name in ("LOSSES", "Loss")},
    **{name: ("files.netfile", name) for name in ("NetworkFile", "Sample")},
    "load_network": ("files.netfile", "load"),
    "read_network": ("files.netfile", "read"),
    "Dataset": ("data", "Dataset"),
    "load_data": ("data", "load"),
    "TrainConfig": ("training.config", "TrainConfig"),
    **{name: ("training.model", name) for name in ("Model", "evaluate", "predict")},
    "load_model": ("training.model", "load"),
    **{name: ("training.train", name) for name in ("Run", "fit", "resume")},
    # neuron graphs, formulas and derivations (issue 4); SymPy loads only when a derivation is asked for
    **{name: ("engine.graph", name) for name in ("GraphGrads", "GraphNetwork", "GraphTrace")},
    **{name: ("engine.protocol", name) for name in ("Engine", "Gradients")},
    **{name: ("explain.symbolic", name) for name in ("derive", "likelihood")},
    "example": ("files.bundled", "path"),  # dp.example("exam_004"): a bundled network's path
    "trace": ("view.notebook", "trace"),  # dp.trace(net, X, T, lr=K): the trace of a batch, tables in Jupyter
}
_SUBPACKAGES = ("checks", "cli", "data", "engine", "errors", "explain", "files", "limits", "training", "view")

__all__ = ["DeltapropError", "DeltapropTypeError", "__version__", *_LAZY]


def __getattr__(name: str):
    """A public name or a subpackage, imported on first use and then kept as an ordinary attribute.

    The first public name also attaches Jupyter's displays (HTML, drawings, worked solutions), the short reprs,
    ``net.draw()`` and ``run.plot()`` to the classes: here, at the API root, because the engine, explain and
    training wings may not import view/ (issue 14)."""
    import importlib

    if name in _LAZY:
        from .view import notebook

        notebook.install()
        module, attr = _LAZY[name]
        mod = importlib.import_module(f"{__name__}.{module}")
        if module == "explain.symbolic":
            notebook.install_symbolic(mod)
        value = getattr(mod, attr)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'deltaprop' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})
