#!/usr/bin/env python
"""The time deltaprop's training step spends outside the BLAS, per part (forward, backward, optimizer).

After one real step of the training loop (``train.step``, plain SGD, so every buffer holds real values), the
engine's matrix products (NumPy's and the update's accumulating GEMM) are replaced by no-ops and its parts are
timed many times; the minimum is robust to a background load, so two engines can be compared on a
busy machine:

    python benchmarks/step_overhead.py                       # this checkout
    python benchmarks/step_overhead.py --src OTHER/src       # another checkout's engine (before/after)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # element-wise NumPy work is single-threaded anyway


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args(argv)
    sys.path.insert(0, args.src)
    import numpy as np

    import deltaprop as dp
    from deltaprop.engine import kernels as blas, layered
    from deltaprop.training import optim, train

    print(f"deltaprop from {Path(dp.__file__).parent}; batch {args.batch}, 784-{args.hidden}-{args.hidden}-10; "
          f"µs per step outside the BLAS (minimum of {args.rounds})")
    for dtype, act in (("float32", "relu"), ("float32", "sigmoid"), ("float64", "relu"), ("float64", "sigmoid")):
        rng = np.random.default_rng(0)
        B, H = args.batch, args.hidden
        X = rng.random((B, 784)).astype(dtype)
        T = np.eye(10, dtype=dtype)[rng.integers(0, 10, B)]
        net = dp.Network([784, H, H, 10], act, "cross_entropy", output="softmax", dtype=dtype)
        opt = optim.make("sgd", lr=0.01)
        buf = (train.StepBuffers(X.copy(), T.copy()) if hasattr(train, "StepBuffers")
               else [X.copy(), T.copy(), None, None])  # an older checkout's step took a list
        train.step(net, opt, X, T, np.arange(B), buf, 1.0)  # the training loop's step, once for real
        trace, grads = (buf.trace, buf.grads) if hasattr(train, "StepBuffers") else (buf[2], buf[3])
        no_blas = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
        no_blas.matmul = lambda a, b, out=None: out
        layered.np = blas.np = no_blas  # the engine's and the kernels' NumPy, with matmul a no-op
        saved_plan = blas.plan
        blas.plan = lambda *args: (lambda: None)  # the update's accumulating GEMM, a no-op too
        trace.work.plans.clear()
        parts = {  # the calls train.step makes for plain SGD
            "forward": lambda: net.forward(X, trace),
            "backward": lambda: net.backward(trace, T, grads, input_grad=False, scale=-0.01, weight_grads=False),
            "update": lambda: net.add_step(trace, grads),
        }
        best = dict.fromkeys(parts, float("inf"))
        try:
            for _ in range(args.rounds):
                for name, fn in parts.items():
                    t0 = time.perf_counter()
                    fn()
                    best[name] = min(best[name], time.perf_counter() - t0)
        finally:
            layered.np = blas.np = np
            blas.plan = saved_plan
        cells = "  ".join(f"{k} {v * 1e6:7.1f}" for k, v in best.items())
        print(f"  {dtype} {act:8} {cells}  total {sum(best.values()) * 1e6:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
