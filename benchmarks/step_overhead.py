#!/usr/bin/env python
"""The time deltaprop's training step spends outside the BLAS, per part (forward, backward, optimizer).

After one real step (so every buffer holds real values), the engine's matrix products are replaced by no-ops and
the step is timed many times; the minimum is robust to a background load, so two engines can be compared on a
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
    from deltaprop import layered, optim

    print(f"deltaprop from {Path(dp.__file__).parent}; batch {args.batch}, 784-{args.hidden}-{args.hidden}-10; "
          f"µs per step outside the BLAS (minimum of {args.rounds})")
    for dtype, act in (("float32", "relu"), ("float32", "sigmoid"), ("float64", "relu"), ("float64", "sigmoid")):
        rng = np.random.default_rng(0)
        B, H = args.batch, args.hidden
        X = rng.random((B, 784)).astype(dtype)
        T = np.eye(10, dtype=dtype)[rng.integers(0, 10, B)]
        net = dp.Network([784, H, H, 10], act, "cross_entropy", output="softmax", dtype=dtype)
        opt = optim.make("sgd", lr=0.01)
        trace = net.forward(X)
        grads = net.backward(trace, T, None, input_grad=False)
        opt.step(net.params(), grads.params(), 1.0)
        no_blas = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
        no_blas.matmul = lambda a, b, out=None: out
        layered.np = no_blas  # the engine module's NumPy, with matmul a no-op
        parts = {
            "forward": lambda: net.forward(X, trace),
            "backward": lambda: net.backward(trace, T, grads, input_grad=False),
            "optimizer": lambda: opt.step(net.params(), grads.params(), 1.0),
        }
        best = dict.fromkeys(parts, float("inf"))
        try:
            for _ in range(args.rounds):
                for name, fn in parts.items():
                    t0 = time.perf_counter()
                    fn()
                    best[name] = min(best[name], time.perf_counter() - t0)
        finally:
            layered.np = np
        cells = "  ".join(f"{k} {v * 1e6:7.1f}" for k, v in best.items())
        print(f"  {dtype} {act:8} {cells}  total {sum(best.values()) * 1e6:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
