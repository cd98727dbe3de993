"""The BLAS thread policy beside a busy background process: deltaprop's training epochs with 2 BLAS threads
fixed, 1 fixed, and as the policy picks them (kernels.threads_for: the work, the load average, no flag), with
and without N extra processes spinning on the CPU; PyTorch at 2 threads as the reference.

Every mode runs one epoch in turn (the order rotated each round), so the load falls on all alike; the figures
are samples per second, medians with their range over the rounds, and the load average seen.

    python benchmarks/threads_under_load.py                   # 784-256-256-10, float32, batch 128, Adam; busy 1
    python benchmarks/threads_under_load.py --busy 2 --repeats 9 --optimizer sgd
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # the pool NumPy loads; each mode caps it (threadpoolctl)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import deltaprop as dp  # noqa: E402
from deltaprop.engine import kernels  # noqa: E402
from deltaprop.training import optim, train  # noqa: E402

SIZES = [784, 256, 256, 10]


def spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--busy", type=int, default=1, help="background processes spinning in the second phase")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.random((args.samples, SIZES[0])).astype(args.dtype)
    y = rng.integers(0, 10, args.samples)
    T = np.eye(10, dtype=args.dtype)[y]
    net = dp.Network(SIZES, "relu", "cross_entropy", output="softmax", init="he", seed=0, dtype=args.dtype)
    opt = optim.make(args.optimizer, lr=1e-3 if "adam" in args.optimizer else 0.01)
    B = args.batch
    bufs = {n: train.StepBuffers(np.empty((n, SIZES[0]), args.dtype), np.empty((n, 10), args.dtype))
            for n in {B, args.samples % B or B}}
    perm = np.arange(args.samples)

    def epoch():
        rng.shuffle(perm)
        for s in range(0, args.samples, B):
            idx = perm[s:s + B]
            train.step(net, opt, X, T, idx, bufs[idx.shape[0]])

    try:
        import torch

        torch.set_num_threads(2)
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(getattr(torch, args.dtype))
        topt = (torch.optim.Adam(model.parameters(), lr=1e-3, fused=True) if args.optimizer == "adam"
                else torch.optim.SGD(model.parameters(), lr=0.01))
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)

        def torch_epoch():
            p = torch.randperm(args.samples)
            for s in range(0, args.samples, B):
                idx = p[s:s + B]
                topt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(tX[idx]), ty[idx]).backward()
                topt.step()
    except ImportError:
        torch_epoch = None

    def mode(threads):
        def run():
            ctx = kernels.threads_for(net.sizes, B, threads)
            with ctx:
                epoch()
            return ctx.threads
        return run

    modes = {"deltaprop, 2 threads": mode(2), "deltaprop, 1 thread": mode(1), "deltaprop, policy": mode(None)}
    if torch_epoch is not None:
        modes["torch, 2 threads"] = lambda: (torch_epoch(), 2)[1]
    for f in modes.values():
        f()  # warm-up
    for phase, n_busy in (("as the machine is", 0), (f"+{args.busy} busy process(es)", args.busy)):
        procs = spinners(n_busy)
        try:
            if n_busy:
                time.sleep(3)
            times = {k: [] for k in modes}
            picked = []
            loads = []
            for r in range(args.repeats):
                names = list(modes)
                names = names[r % len(names):] + names[:r % len(names)]
                for name in names:
                    t0 = time.perf_counter()
                    n = modes[name]()
                    times[name].append(time.perf_counter() - t0)
                    if name == "deltaprop, policy":
                        picked.append(n)
                loads.append(os.getloadavg()[0])
        finally:
            for p in procs:
                p.kill()
                p.wait()
        print(f"{phase}: load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs; the policy "
              f"picked {sorted(set(picked))} thread(s)", file=sys.stderr)
        for name, ts in times.items():
            sps = sorted(args.samples / t for t in ts)
            print(f"  {name:22s} {statistics.median(sps):>9,.0f} samples/s  ({sps[0]:,.0f}–{sps[-1]:,.0f})",
                  file=sys.stderr)
            if args.json:
                print(json.dumps({"phase": phase, "mode": name, "sps_median": statistics.median(sps),
                                  "sps_min": sps[0], "sps_max": sps[-1], "loadavg": [min(loads), max(loads)],
                                  "policy_threads": sorted(set(picked)), "repeats": args.repeats,
                                  "optimizer": args.optimizer, "dtype": args.dtype, "batch": B}))


if __name__ == "__main__":
    main()
