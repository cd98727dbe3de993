"""Fuzz targets: each takes untrusted input and must either succeed or raise DeltapropError — nothing else,
no hang, no code run. Shared by the hypothesis tests (a few thousand cases) and `fuzz/run.py` (many more)."""

from __future__ import annotations


import numpy as np

from deltaprop.files import netfile
from deltaprop.errors import DeltapropError


def netfile_text(text: str) -> None:
    """A network file's text, through the bounded TOML reader (budget pre-scan, then tomllib) and the builder."""
    from deltaprop.files import safe

    try:
        doc = safe.parse_toml(text, "<fuzz>")
    except DeltapropError:
        return
    netfile_doc(doc)


def netfile_doc(doc: dict, must_build: bool = False) -> None:
    """An already-parsed network document: build it, and if it builds, run it on one sample."""
    try:
        net = netfile.from_dict(doc, source="<fuzz>")
    except DeltapropError:
        if must_build:
            raise
        return
    try:  # the one [sample] reader, for both forms
        netfile.sample(doc, net, "<fuzz>")
    except DeltapropError:
        pass
    x = np.zeros((1, net.n_inputs))
    with np.errstate(all="ignore"):
        try:
            net.forward(x)
        except DeltapropError:
            pass


# --- model files, data files ------------------------------------------------------------------------------------
# Each target writes the untrusted bytes to a file (the readers take paths, as the CLI does) and reads it back.

import io  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from deltaprop import limits  # noqa: E402
from deltaprop.data import readers as data_mod  # noqa: E402
from deltaprop.data.dataset import check_dataset  # noqa: E402
from deltaprop.training import model as model_mod  # noqa: E402

_DIR = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))


def _file(name: str, content: bytes) -> Path:
    path = _DIR / f"{os.getpid()}-{name}"
    path.write_bytes(content)
    return path


def model_bytes(content: bytes) -> None:
    """Any bytes as model.npz: a model that loads must then predict on one sample."""
    try:
        model = model_mod.load(_file("model.npz", content))
    except DeltapropError:
        return
    with np.errstate(all="ignore"):
        model.output(np.zeros((1, model.net.sizes[0])))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def model_arrays(arrays: dict[str, np.ndarray]) -> None:
    """A model file holding these arrays (a valid one mutated: arrays replaced, metadata JSON edited)."""
    model_bytes(npz_bytes(arrays))


def checkpoint_bytes(content: bytes, net_sizes=(2, 3, 2)) -> None:
    """Any bytes as a checkpoint, restored into a small network: loads or is refused clearly."""
    from deltaprop.training import optim, runs
    from deltaprop.engine.layered import Network

    net = Network(list(net_sizes), "tanh", "cross_entropy", output="softmax", seed=0)
    state = runs.LoopState(np.random.default_rng(0))
    try:
        runs.load_checkpoint(_file("checkpoint.npz", content), net, optim.make("adam"), state, 8)
    except DeltapropError:
        pass


def csv_text(text: str, task: str | None = None) -> None:
    """Any text as a CSV data file; a data set that loads must pass the checks training makes."""
    try:
        ds = data_mod.csv_dataset(_file("data.csv", text.encode("utf-8", "surrogatepass")), task=task)
    except DeltapropError:
        return
    check_dataset(ds)
    assert np.all(np.isfinite(ds.X)) and ds.X.shape[0] == ds.T.shape[0] >= 1


def idx_bytes(content: bytes) -> None:
    """Any bytes as an IDX file."""
    try:
        arr = data_mod.load_idx(_file("data-idx", content))
    except DeltapropError:
        return
    assert arr.size <= limits.IDX_ELEMENTS


def formula_text(text: str) -> None:
    """Any text as an activation formula in z and as a loss formula in a and t: parsed by the whitelist (never
    eval), then, if accepted, differentiated and run on a few values."""
    from deltaprop.engine import formulas

    for make, args in ((formulas.activation, ("z",)), (formulas.loss, ("a", "t"))):
        try:
            fn = make(text)
        except DeltapropError:
            continue
        v = np.array([[0.3, 1.7]])
        with np.errstate(all="ignore"):
            if len(args) == 1:
                fn.df(v, fn.f(v))
            else:
                fn.grad(v, v + 0.5)


SAMPLE_FORMULAS = ["z**2", "tanh(2*z) + 0.1*z", "log(1 + exp(z))", "sigmoid(z)*(1 - sigmoid(z))",
                   "t/a - log(t/a) - 1", "(a - t)**2/2", "-t*log(a) - (1 - t)*log(1 - a)", "abs(z) + sqrt(z**2 + 1)",
                   "exp(-z**2/2)/sqrt(2*pi)", "max(z, 0.01*z)"]


# --- valid seeds that the fuzzers mutate -----------------------------------------------------------------------


def sample_model_bytes(task: str = "classification") -> bytes:
    """A small valid model file (3 inputs, 4 tanh units, 2 outputs)."""
    from deltaprop.engine.layered import Network

    if task == "classification":
        net = Network([3, 4, 2], "tanh", "cross_entropy", output="softmax", seed=0)
        model = model_mod.Model(net, task, np.zeros(3), np.ones(3), classes=["no", "yes"],
                                feature_names=["a", "b", "c"], info={"data": "x.csv", "seed": 0})
    else:
        net = Network([3, 4, 1], "tanh", "quadratic", output="identity", seed=0)
        model = model_mod.Model(net, task, np.zeros(3), np.ones(3), np.zeros(1), np.ones(1))
    path = _DIR / f"{os.getpid()}-sample.npz"
    model.save(path)
    return path.read_bytes()


def sample_checkpoint_bytes() -> bytes:
    """A checkpoint of a (2, 3, 2) network with Adam's state, mid-epoch (8 training samples)."""
    from deltaprop.training import config, optim, runs
    from deltaprop.engine.layered import Network

    net = Network([2, 3, 2], "tanh", "cross_entropy", output="softmax", seed=0)
    opt = optim.make("adam")
    opt.step(net.params(), [np.ones_like(p) for p in net.params()], 1.0)
    state = runs.LoopState(np.random.default_rng(0))
    state.perm, state.batch = np.random.default_rng(1).permutation(8), 1
    path = _DIR / f"{os.getpid()}-sample-ckpt.npz"
    runs.save_checkpoint(path, net, opt, state, config.TrainConfig())
    return path.read_bytes()


def sample_idx_bytes(shape=(3, 2, 2), code: int = 0x08) -> bytes:
    dtype = np.dtype(data_mod.IDX_TYPES[code])
    head = bytes([0, 0, code, len(shape)]) + np.array(shape, ">u4").tobytes()
    return head + np.arange(int(np.prod(shape)), dtype=dtype).tobytes()


SAMPLE_CSV = "x1,x2,label\n0.5,1,a\n-1,2.5,b\n3,1e-3,a\n"


# --- issue 17: every reader and command within its budget ---------------------------------------------------------


def trace_text(text: str) -> None:
    """A network file's text → the network and its [sample] → the trace report (budgets checked first) and the
    sizes of the tables the CLI would print."""
    from deltaprop.cli.trace import table_cells
    from deltaprop.explain import trace
    from deltaprop.files import safe

    try:
        doc = safe.parse_toml(text, "<fuzz>")
        net = netfile.from_dict(doc, source="<fuzz>")
        sample = netfile.sample(doc, net, "<fuzz>")
        if sample is None:
            return
        with np.errstate(all="ignore"):
            report = trace.report(net, sample.X, sample.T, 0.1, source="<fuzz>")
        table_cells(report)
    except DeltapropError:
        pass


def config_text(text: str) -> None:
    """A --config file's text → settings → a checked TrainConfig (nothing trained)."""
    from deltaprop.training import config

    try:
        config.config_from(config.settings_from_file(_file("config.toml", text.encode("utf-8", "surrogatepass"))))
    except DeltapropError:
        pass


def limits_text(text: str) -> None:
    """A --limit / DELTAPROP_LIMITS value: parsed into budgets or refused."""
    try:
        out = limits.parse_settings(text, "--limit")
    except DeltapropError:
        return
    assert all(k in limits.BUDGETS and 1 <= v <= 2**62 for k, v in out.items())


def npz_data_bytes(content: bytes) -> None:
    """Any bytes as an .npz data file (X with T or y)."""
    try:
        ds = data_mod.npz_dataset(_file("data.npz", content))
    except DeltapropError:
        return
    check_dataset(ds)


SAMPLE_NPZ = [npz_bytes({"X": np.arange(6.0).reshape(3, 2), "y": np.array([0, 1, 0])}),
              npz_bytes({"X": np.arange(6.0).reshape(3, 2), "T": np.eye(2)[[0, 1, 1]]})]


def cli_args(args: list[str]) -> None:
    """A command line for the read-only commands (trace, gradcheck), run in-process: status 0, 1 (a failed
    check) or 2, and at most one line on stderr."""
    import contextlib

    from deltaprop.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(args)
    lines = err.getvalue().strip().splitlines()
    assert code in (0, 1, 2), (args, code)
    assert len(lines) <= 1 and "Traceback" not in err.getvalue(), (args, err.getvalue()[:500])
