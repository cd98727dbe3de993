"""Every public function of ``import deltaprop as dp`` misused: each argument of a valid call replaced in turn by
wrong types, wrong shapes, NaN/Inf, empty and huge values. A call may succeed (the value happens to be valid) or
raise DeltapropError (a ValueError; DeltapropTypeError, a TypeError too, for wrong types) with a message; any
other exception is a failure: IndexError, ZeroDivisionError, AttributeError, … are the library's bugs, not
the caller's."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp

EXAMPLES = Path(__file__).parent.parent / "examples"

BAD = {
    "None": None, "str": "x", "bytes": b"x", "float": 1.5, "negative": -1, "zero": 0, "huge int": 10**30,
    "huge float": 1e308, "bool": True, "nan": math.nan, "-inf": -math.inf, "complex": 1 + 1j,
    "empty list": [], "ragged": [[1, 2], [3]], "nan array": np.array([[np.nan, 0.0]]),
    "inf array": np.array([[np.inf, 0.0], [0.0, 1.0]]), "empty array": np.zeros((0, 2)),
    "3-d array": np.zeros((2, 2, 2)), "string array": np.array([["a", "b"]]), "dict": {}, "object": object(),
    "list of str": ["a", "b"], "huge list": [10**9, 10**9], "negative list": [-3], "path": Path("/nonexistent/x"),
}


def tiny():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    return X, (X[:, 0] > 0).astype(int)


def network():
    return dp.Network([2, 3, 2], "tanh", "cross_entropy", output="softmax", seed=0)


def graph():
    return dp.read_network(EXAMPLES / "chain_001.toml").network


def model():
    return dp.fit(tiny(), hidden=[3], epochs=1).model


# name → (function, valid positional args, valid keyword args)
def calls():
    X, y = tiny()
    T = np.eye(2)[y]
    net, g, m = network(), graph(), model()
    gx, gt = np.array([[0.5]]), np.array([[1.0]])
    return {
        "Network": (dp.Network, ([2, 3, 2], "tanh", "cross_entropy"), {"output": "softmax", "seed": 0}),
        "Network.forward": (net.forward, (X,), {}),
        "Network.loss_and_grads": (net.loss_and_grads, (X, T), {}),
        "Network.cost": (net.cost, (X, T), {}),
        "Network.predict": (net.predict, (X,), {}),
        "Network.astype": (net.astype, ("float32",), {}),
        "GraphNetwork": (dp.GraphNetwork, (["x"], ["h", "o"], ["x", "h"], ["h", "o"], [0.5, -1.0]),
                         {"activations": ["tanh", "sigmoid"]}),
        "GraphNetwork.forward": (g.forward, (gx,), {}),
        "GraphNetwork.loss_and_grads": (g.loss_and_grads, (gx, gt), {}),
        "GraphNetwork.cost": (g.cost, (gx, gt), {}),
        "load_network": (dp.load_network, (EXAMPLES / "chain_001.toml",), {}),
        "read_network": (dp.read_network, (EXAMPLES / "chain_001.toml",), {}),
        "load_data": (dp.load_data, ("iris",), {"seed": 0}),
        "fit": (dp.fit, ((X, y),), {"hidden": [3], "epochs": 1, "lr": 0.01, "batch_size": 8, "seed": 0,
                                    "val_split": 0.1}),
        "fit config": (dp.fit, ((X, y), {"hidden": [3], "epochs": 1}), {}),
        "evaluate": (dp.evaluate, (m, X, y), {}),
        "predict": (dp.predict, (m, X), {"proba": False}),
        "load_model": (dp.load_model, (EXAMPLES / "nothing.npz",), {}),
        "resume": (dp.resume, (Path("/nonexistent/run"),), {}),
        "gradcheck": (dp.gradcheck, (net, X[:3], T[:3]), {"method": "central"}),
        "numeric_gradients": (dp.numeric_gradients, (net, X[:3], T[:3]), {"method": "central"}),
        "likelihood": (dp.likelihood, ("gaussian",), {}),
        "derive": (dp.derive, (g, gx, gt, "w_x_1"), {}),
    }


def cases():
    out = []
    for name, (fn, args, kwargs) in calls().items():
        for i in range(len(args)):
            for bad in BAD:
                out.append((name, ("arg", i), bad))
        for key in kwargs:
            for bad in BAD:
                out.append((name, ("kw", key), bad))
    return out


CALLS = None


@pytest.fixture(scope="module")
def valid_calls():
    return calls()


def test_every_valid_call_works(valid_calls):
    for name, (fn, args, kwargs) in valid_calls.items():
        if name in ("load_model", "resume"):  # valid in form only: the files are absent
            with pytest.raises(dp.DeltapropError):
                fn(*args, **kwargs)
            continue
        fn(*args, **kwargs)


def misuse(valid_calls, name, where, bad):
    fn, args, kwargs = valid_calls[name]
    args, kwargs = list(args), dict(kwargs)
    if where[0] == "arg":
        args[where[1]] = BAD[bad]
    else:
        kwargs[where[1]] = BAD[bad]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(*args, **kwargs)
        except dp.DeltapropError as e:
            assert str(e), f"{name}: an empty message"
            return "refused"
        except Exception as e:  # noqa: BLE001 - this is what the test looks for
            return f"{type(e).__name__}: {str(e)[:120]}"
    return "ok"


def test_misuse_raises_only_deltaprop_errors(valid_calls):
    results = {}
    for name, where, bad in cases():
        results[(name, where, bad)] = misuse(valid_calls, name, where, bad)
    wrong = {k: v for k, v in results.items() if v not in ("ok", "refused")}
    assert len(results) > 1000
    assert sum(v == "refused" for v in results.values()) > 0.7 * len(results)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in sorted(wrong.items(), key=str))


def test_wrong_types_are_type_errors_too():
    with pytest.raises(TypeError):
        dp.fit(object())
    with pytest.raises(dp.DeltapropError):
        dp.fit(object())
    with pytest.raises(ValueError):
        dp.Network([2, -3, 2])
