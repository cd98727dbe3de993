#!/usr/bin/env python
"""Training throughput of a 784-h-h-10 MLP: deltaprop against PyTorch and scikit-learn, side by side.

The work (issue 5): synthetic MNIST-shaped data (uniform [0, 1] inputs, 10 classes), softmax + cross-entropy,
plain SGD (or ``--optimizer momentum|nesterov|adam|adamw``, issue 15), shuffled mini-batches, one epoch timed after one warm-up epoch, 2 threads. The three peers run in
one process and are interleaved within every repeat (the order rotates), so a background load slows all three
alike; the median epoch time over the repeats is reported, and the ratios are taken from the medians.

deltaprop is timed on exactly its training step, ``deltaprop.train.step``, the function the training loop
calls for each mini-batch: it gathers the shuffled batch into reused buffers, runs forward and backward (plain
SGD folds −η into δᴸ, so the backward pass gives the step −η ∂C/∂θ itself), checks that the cost and every δ
are finite, and adds the step to the parameters.

    python benchmarks/mlp_throughput.py            # every configuration, ~3-4 min on 2 cores
    python benchmarks/mlp_throughput.py --quick    # three configurations, < 60 s
    python benchmarks/mlp_throughput.py --json     # one JSON line per configuration on stdout, table on stderr
    python benchmarks/mlp_throughput.py --optimizer adam --only float64,relu,64,256 --threads 1 --repeats 9

PyTorch runs twice: its default form of the optimizer (``torch``) and its fastest (``torch_fused``: ``fused=True``
where torch has it for the optimizer, else ``foreach=True``); scikit-learn runs where it has the optimizer
(sgd, momentum, nesterov, adam; not adamw).
"""

from __future__ import annotations

import os
import sys


def _from_argv(name: str, default: str) -> str:
    for i, arg in enumerate(sys.argv):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return default


# The BLAS reads its thread count when it is loaded, so this must come before numpy is imported.
THREADS = int(_from_argv("--threads", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# this checkout's engine, or another's with --src (to measure before and after a change)
sys.path.insert(0, _from_argv("--src", str(Path(__file__).resolve().parents[1] / "src")))
import deltaprop as dp  # noqa: E402
from deltaprop.training import optim, train  # noqa: E402,F401  (dp.train.step is the timed step)

N_IN, N_OUT = 784, 10
LR = 0.01  # small enough that no configuration diverges in a few epochs; the step's cost does not depend on it
OPTIMIZER = _from_argv("--optimizer", "sgd")
# each optimizer's settings, the same for every peer: (deltaprop name, settings)
SETTINGS = {
    "sgd": {"lr": LR},
    "momentum": {"lr": LR, "momentum": 0.9},
    "nesterov": {"lr": LR, "momentum": 0.9},
    "adam": {"lr": 1e-3},
    "adamw": {"lr": 1e-3, "weight_decay": 0.01},
}

# (dtype, activation, batch, hidden); the first is the headline configuration
FULL = [
    ("float32", "relu", 128, 256),
    ("float32", "sigmoid", 128, 256),
    ("float64", "relu", 128, 256),
    ("float64", "sigmoid", 128, 256),
    ("float32", "relu", 32, 256),
    ("float32", "relu", 512, 256),
    ("float32", "relu", 128, 64),
    ("float32", "relu", 128, 1024),
]
QUICK = FULL[:3]


def make_data(n: int, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, N_IN), dtype=np.float64).astype(dtype)
    y = rng.integers(0, N_OUT, n)
    T = np.zeros((n, N_OUT), dtype)
    T[np.arange(n), y] = 1
    return X, y, T


def layer_shapes(hidden: int) -> list[tuple[int, int]]:
    sizes = [N_IN, hidden, hidden, N_OUT]
    return list(zip(sizes[:-1], sizes[1:]))


def step_flops(n: int, hidden: int) -> float:
    """Useful FLOPs of one training step on n samples: forward 2·n·in·out per layer, backward ∂W (every layer)
    and ∂X (every layer but the first) at 2·n·in·out each."""
    shapes = layer_shapes(hidden)
    total = sum(3 * 2 * n * i * o for i, o in shapes)
    return total - 2 * n * shapes[0][0] * shapes[0][1]


# --- the peers: each has epoch() (one shuffled pass over the data) -------------------------------------------


def _wing(pkg, name: str):
    """pkg's module ``name``: deltaprop.training.X since the wings layout, deltaprop.X in older checkouts."""
    training = getattr(pkg, "training", None)
    return getattr(training, name) if training is not None else getattr(pkg, name)


class Deltaprop:
    name = "deltaprop"
    package = None  # the deltaprop module; a subclass may time another checkout's (see --baseline)

    def __init__(self, X, y, T, dtype, activation, batch, hidden, seed=0):
        pkg = self.package or dp
        self.X, self.T, self.batch = X, T, batch
        init = "he" if activation == "relu" else "glorot"
        self.net = pkg.Network([N_IN, hidden, hidden, N_OUT], activation, "cross_entropy", output="softmax",
                               init=init, seed=seed, dtype=dtype)
        self.opt = _wing(pkg, "optim").make(OPTIMIZER, **SETTINGS[OPTIMIZER])
        self.rng = np.random.default_rng(seed)
        n = X.shape[0]
        self.perm = np.arange(n)  # shuffled in place every epoch
        # one set of buffers for the full batches and one for the last, shorter batch (if any)
        self.bufs = {}
        try:  # an older checkout's step took a list
            kept = getattr(_wing(pkg, "train"), "StepBuffers", None)
        except AttributeError:
            kept = None
        for size in {batch, n % batch} - {0}:
            Xb, Tb = np.empty((size, N_IN), dtype), np.empty((size, N_OUT), dtype)
            self.bufs[size] = kept(Xb, Tb) if kept is not None else [Xb, Tb, None, None]

    def step(self, start):
        idx = self.perm[start:start + self.batch]
        buf = self.bufs[idx.shape[0]]
        train_step = getattr(_wing(self.package or dp, "train"), "step", None)
        if train_step is not None:  # the training loop's own step
            return train_step(self.net, self.opt, self.X, self.T, idx, buf, 1.0)
        # a baseline checkout from before train.step existed: the loop's calls of that time
        Xb, Tb, trace, grads = buf
        np.take(self.X, idx, axis=0, out=Xb, mode="clip")
        np.take(self.T, idx, axis=0, out=Tb, mode="clip")
        trace = self.net.forward(Xb, trace)
        grads = self.net.backward(trace, Tb, grads, input_grad=False)
        self.opt.step(self.net.params(), grads.params(), 1.0)
        buf[2], buf[3] = trace, grads
        return float(grads.cost)

    def epoch(self):
        self.rng.shuffle(self.perm)
        for start in range(0, self.X.shape[0], self.batch):
            cost = self.step(start)
        return cost

    def alloc_per_step(self, steps: int = 20) -> int:
        """The most bytes any one steady-state step leaves allocated at its peak (tracemalloc), beyond what
        was there before it; numpy reports its array buffers to tracemalloc, so a new array shows here."""
        self.epoch()
        starts = list(range(0, (self.X.shape[0] // self.batch) * self.batch, self.batch))[:steps]
        self.step(starts[0])  # the first step after shuffling
        tracemalloc.start()
        try:
            worst = 0
            for start in starts:
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                self.step(start)
                worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        return worst


def baseline_peer(src: str):
    """The engine in another checkout's src/ as a second deltaprop peer, imported under another name so that
    both run interleaved in this process: a before/after comparison that a background load cannot skew."""
    import importlib.util

    path = Path(src) / "deltaprop"
    spec = importlib.util.spec_from_file_location("deltaprop_baseline", path / "__init__.py",
                                                  submodule_search_locations=[str(path)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["deltaprop_baseline"] = pkg
    spec.loader.exec_module(pkg)
    wing = "training." if (path / "training").is_dir() else ""  # the wings layout, or an older flat one
    importlib.import_module(f"deltaprop_baseline.{wing}optim")
    importlib.import_module(f"deltaprop_baseline.{wing}train")
    return type("Baseline", (Deltaprop,), {"name": "baseline", "package": pkg})


class Torch:
    """PyTorch with its default form of the optimizer (on the CPU: one tensor at a time)."""

    name = "torch"
    fast = False

    def __init__(self, X, y, T, dtype, activation, batch, hidden, seed=0):
        import torch
        import torch.nn.functional as F

        torch.manual_seed(seed)
        self.torch, self.F = torch, F
        tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        Act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[activation]
        self.model = torch.nn.Sequential(
            torch.nn.Linear(N_IN, hidden), Act(), torch.nn.Linear(hidden, hidden), Act(),
            torch.nn.Linear(hidden, N_OUT),
        ).to(tdtype)
        self.opt, self.form = self.optimizer(torch)
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y)
        self.batch = batch

    def optimizer(self, torch):
        """(optimizer, form): torch's class for OPTIMIZER with the same settings; in its fastest form for the
        fast peer (fused=True where torch has it, checked by a step; else foreach=True)."""
        kw = dict(SETTINGS[OPTIMIZER])
        if OPTIMIZER == "nesterov":
            kw["nesterov"] = True
        cls = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
               "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[OPTIMIZER]
        if not self.fast:
            return cls(self.model.parameters(), **kw), "default"
        for form in ("fused", "foreach"):
            try:
                opt = cls(self.model.parameters(), **kw, **{form: True})
                for p in self.model.parameters():
                    p.grad = torch.zeros_like(p)
                opt.step()  # fused kernels may be refused only at the first step
                opt = cls(self.model.parameters(), **kw, **{form: True})  # a fresh state
                for p in self.model.parameters():
                    p.grad = None
                return opt, form
            except (RuntimeError, TypeError, ValueError):
                continue
        return cls(self.model.parameters(), **kw), "default"

    def epoch(self):
        torch, F, model, opt = self.torch, self.F, self.model, self.opt
        n = self.X.shape[0]
        perm = torch.randperm(n)
        for start in range(0, n, self.batch):
            idx = perm[start:start + self.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(self.X[idx]), self.y[idx])
            loss.backward()
            opt.step()
        return float(loss.detach())


class TorchFused(Torch):
    """PyTorch with its fastest form of the optimizer (fused=True, else foreach=True)."""

    name = "torch_fused"
    fast = True


class Sklearn:
    name = "sklearn"
    HAS = ("sgd", "momentum", "nesterov", "adam")  # scikit-learn's MLP has no AdamW

    def __init__(self, X, y, T, dtype, activation, batch, hidden, seed=0):
        from sklearn.neural_network import MLPClassifier

        self.X, self.y = X, y
        kw = SETTINGS[OPTIMIZER]
        solver = dict(solver="adam", beta_1=0.9, beta_2=0.999, epsilon=1e-8) if OPTIMIZER == "adam" else dict(
            solver="sgd", learning_rate="constant", momentum=kw.get("momentum", 0.0),
            nesterovs_momentum=OPTIMIZER == "nesterov")
        self.model = MLPClassifier(
            hidden_layer_sizes=(hidden, hidden), activation={"relu": "relu", "sigmoid": "logistic"}[activation],
            learning_rate_init=kw["lr"], batch_size=batch, max_iter=1, shuffle=True, alpha=0.0, tol=0.0,
            random_state=seed, **solver,
        )
        self.classes = np.arange(N_OUT)
        self.first = True

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.first:
                self.model.partial_fit(self.X, self.y, classes=self.classes)
                self.first = False
            else:
                self.model.partial_fit(self.X, self.y)
        return float(self.model.loss_)

    @property
    def dtype(self) -> str:
        return self.model.coefs_[0].dtype.name


class Sgemm:
    """The products of one training step at the same shapes, layouts and dtype, back to back (np.matmul): W in
    Fortran order as the engine keeps it, ∂C/∂W as its transpose a_prevᵀ δ, as the engine computes it."""

    name = "sgemm"

    def __init__(self, dtype, batch, hidden, n_steps, seed=0):
        rng = np.random.default_rng(seed)
        self.n_steps = n_steps
        self.layers = []
        for i, o in layer_shapes(hidden):
            a_prev = rng.random((batch, i)).astype(dtype)
            W = np.asfortranarray(rng.random((o, i)).astype(dtype))
            self.layers.append((a_prev, W, np.empty((batch, o), dtype), np.empty((o, i), dtype, order="F"),
                                rng.random((batch, o)).astype(dtype), np.empty((batch, i), dtype)))
        self.flops = n_steps * step_flops(batch, hidden)

    def epoch(self):
        for _ in range(self.n_steps):
            for a_prev, W, z, _, _, _ in self.layers:
                np.matmul(a_prev, W.T, out=z)
            for l, (a_prev, W, _, gW, delta, dA) in reversed(list(enumerate(self.layers))):
                np.matmul(a_prev.T, delta, out=gW.T)
                if l > 0:
                    np.matmul(delta, W, out=dA)


# --- running ---------------------------------------------------------------------------------------------------


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("user_api") == "blas" and "numpy" in lib.get("filepath", ""):
                return f"{lib['internal_api']} {lib.get('version')} ({lib.get('architecture')}), " \
                       f"{lib['num_threads']} threads"
    except ImportError:
        pass
    return "unknown"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_config(dtype, activation, batch, hidden, *, n, repeats, peers, log):
    X, y, T = make_data(n, dtype)
    runners = []
    for cls in peers:
        r = cls(X, y, T, dtype, activation, batch, hidden)
        r.epoch()  # warm-up epoch: buffers, BLAS thread pools, allocator
        runners.append(r)
    sgemm = Sgemm(dtype, batch, hidden, n // batch)
    sgemm.epoch()
    runners.append(sgemm)
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for rep in range(repeats):
        k = rep % len(runners)  # rotate the order so that no peer always runs first or last
        for r in runners[k:] + runners[:k]:
            times[r.name].append(timed(r.epoch))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    sps = {name: n / t for name, t in med.items() if name != "sgemm"}
    # The sgemm rate is the yardstick, so it is the best of the repeats (a median would count a load spike
    # against the BLAS and flatter the fraction); the peers' figures are medians.
    sgemm_best = min(times["sgemm"])
    flops_epoch = n * step_flops(1, hidden)
    dp_sps = sps["deltaprop"]
    rec = {
        "dtype": dtype,
        "activation": activation,
        "batch": batch,
        "hidden": hidden,
        "deltaprop_sps": round(dp_sps),
        "torch_sps": round(sps["torch"]) if "torch" in sps else None,
        "sklearn_sps": round(sps["sklearn"]) if "sklearn" in sps else None,
        "ratio_torch": round(dp_sps / sps["torch"], 3) if "torch" in sps else None,
        "ratio_sklearn": round(dp_sps / sps["sklearn"], 3) if "sklearn" in sps else None,
        "ratio_torch_fused": round(dp_sps / sps["torch_fused"], 3) if "torch_fused" in sps else None,
        "torch_fused_sps": round(sps["torch_fused"]) if "torch_fused" in sps else None,
        "optimizer": OPTIMIZER,
        "threads": THREADS,
        "gflops": round(flops_epoch / med["deltaprop"] / 1e9, 1),
        "sgemm_gflops": round(sgemm.flops / sgemm_best / 1e9, 1),
    }
    rec["sgemm_fraction"] = round(rec["gflops"] / rec["sgemm_gflops"], 3)
    rec["alloc_bytes_per_step"] = runners[0].alloc_per_step()
    rec["samples"] = n
    rec["repeats"] = repeats
    if "baseline" in sps:
        rec["baseline_sps"] = round(sps["baseline"])
        rec["speedup_vs_baseline"] = round(dp_sps / sps["baseline"], 3)
    rec["sgemm_gflops_median"] = round(sgemm.flops / med["sgemm"] / 1e9, 1)
    # best-of-repeats throughput: less sensitive to a background load than the median, for a noisy machine
    rec["best_sps"] = {name: round(n / min(ts)) for name, ts in times.items() if name != "sgemm"}
    rec["epoch_s"] = {name: [round(t, 4) for t in ts] for name, ts in times.items()}
    for r in runners:
        if r.name == "sklearn":
            rec["sklearn_dtype"] = r.dtype
        if r.name == "torch_fused":
            rec["torch_fused_form"] = r.form
    # the spread: each repeat's ratio (deltaprop's epoch against the peer's epoch of the same round)
    rec["ratio_range"] = {peer: [round(min(q), 3), round(max(q), 3)] for peer in ("torch", "torch_fused", "sklearn")
                          if peer in times for q in [[b / a for a, b in zip(times["deltaprop"], times[peer])]]}
    rec["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    extra = f", {rec['speedup_vs_baseline']}× the baseline's {rec['baseline_sps']:,}/s" if "baseline_sps" in rec else ""
    log(f"  {dtype} {activation} batch {batch} hidden {hidden}: done{extra}")
    return rec


def fmt_table(recs) -> str:
    head = (f"{'dtype':8} {'act':8} {'batch':>5} {'hidden':>6} | {'deltaprop/s':>11} {'torch/s':>9} "
            f"{'sklearn/s':>9} | {'×torch':>6} {'×fused':>6} {'×sklearn':>8} | {'GFLOP/s':>7} {'sgemm':>6} {'%':>4} | "
            f"{'alloc B/step':>12}")
    lines = [head, "-" * len(head)]
    for r in recs:
        def num(v, f="{:>9,}"):
            return f.format(v) if v is not None else f"{'—':>{len(f.format(0))}}"

        lines.append(
            f"{r['dtype']:8} {r['activation']:8} {r['batch']:>5} {r['hidden']:>6} | "
            f"{r['deltaprop_sps']:>11,} {num(r['torch_sps'])} {num(r['sklearn_sps'])} | "
            f"{num(r['ratio_torch'], '{:>6.2f}')} {num(r.get('ratio_torch_fused'), '{:>6.2f}')} "
            f"{num(r['ratio_sklearn'], '{:>8.2f}')} | "
            f"{r['gflops']:>7.1f} {r['sgemm_gflops']:>6.1f} {100 * r['sgemm_fraction']:>4.0f} | "
            f"{r['alloc_bytes_per_step']:>12,}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="three configurations, 3 repeats, < 60 s")
    ap.add_argument("--json", action="store_true", help="JSON lines on stdout (the table goes to stderr)")
    ap.add_argument("--repeats", type=int, default=None, help="timed epochs per peer (default 5, quick 3)")
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=THREADS, help="BLAS / torch threads (default 2)")
    ap.add_argument("--optimizer", default="sgd", choices=sorted(SETTINGS),
                    help="the optimizer every peer uses (default sgd, the issue 5 headline)")
    ap.add_argument("--src", default=None, help="the src/ folder of another deltaprop checkout to time")
    ap.add_argument("--baseline", default=None,
                    help="also time the engine in this src/ folder (e.g. a checkout of the previous commit), "
                         "interleaved, and report the speed-up over it")
    ap.add_argument("--only", default=None,
                    help="run one configuration, e.g. float32,relu,128,256")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-sklearn", action="store_true")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    configs = QUICK if args.quick else FULL
    if args.only:
        d, a, b, h = args.only.split(",")
        configs = [(d, a, int(b), int(h))]

    peers = [Deltaprop]
    if args.baseline:
        peers.append(baseline_peer(args.baseline))
    torch_version = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(THREADS)
            torch_version = torch.__version__
            peers += [Torch, TorchFused]
        except ImportError:
            pass
    import sklearn

    if not args.no_sklearn and OPTIMIZER in Sklearn.HAS:
        peers.append(Sklearn)

    out = sys.stdout if not args.json else sys.stderr

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log(f"deltaprop {dp.__version__} from {Path(dp.__file__).parent}, numpy {np.__version__}, BLAS: {blas_info()}; torch {torch_version}; "
        f"scikit-learn {sklearn.__version__ if not args.no_sklearn else None}; python {platform.python_version()}"
        f"; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {args.samples} samples, "
        f"{repeats} repeats, {THREADS} threads, optimizer {OPTIMIZER}; load average {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    recs = []
    for cfg in configs:
        rec = run_config(*cfg, n=args.samples, repeats=repeats, peers=peers, log=log)
        rec["torch_version"] = torch_version
        rec["blas"] = blas_info()
        recs.append(rec)
        if args.json:
            print(json.dumps(rec), flush=True)
    print(fmt_table(recs), file=out)
    print(f"(median of {repeats} interleaved epochs of {args.samples} samples after a warm-up epoch; "
          f"{time.perf_counter() - t0:.0f} s in all)", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
