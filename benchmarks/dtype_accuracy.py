"""float32 against float64 training, on every built-in data set: the test metric and the CPU time of `dp.fit`.

Every built-in set is trained with its own recipe (the defaults `deltaprop train --data NAME` uses), once in
float64 and once in float32, for each seed; the two runs of a seed see the same split, the same initial
weights (drawn in float64, then rounded) and the same batches. Prints a table and, with --json, one JSON line
per (set, seed). This is the evidence behind float32 as the training default (docs/performance.md).

    python benchmarks/dtype_accuracy.py                 # seeds 0-2, every set
    python benchmarks/dtype_accuracy.py --seeds 5 --only digits,iris
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import deltaprop as dp  # noqa: E402
from deltaprop.data import builtin  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated set names")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(builtin.NAMES)
    rows = []
    for name in names:
        for seed in range(args.seeds):
            rec = {"data": name, "seed": seed}
            for dtype in ("float64", "float32"):
                t0 = time.process_time()
                run = dp.fit(name, seed=seed, dtype=dtype)
                cpu = time.process_time() - t0
                m = run.metrics
                metric = "test_accuracy" if "test_accuracy" in m else ("test_mse" if "test_mse" in m else
                                                                      "train_mse" if "train_mse" in m else
                                                                      "train_accuracy")
                rec[dtype] = {"metric": metric, "value": m[metric], "epochs": m["epochs_run"], "cpu_s": round(cpu, 3)}
            rows.append(rec)
            if args.json:
                print(json.dumps(rec), flush=True)
            a, b = rec["float64"], rec["float32"]
            print(f"{name:14s} seed {seed}  {a['metric']:14s} float64 {a['value']:.4g} ({a['epochs']} ep, "
                  f"{a['cpu_s']:.2f} s)  float32 {b['value']:.4g} ({b['epochs']} ep, {b['cpu_s']:.2f} s)",
                  file=sys.stderr, flush=True)
    print("\nset            metric          float64 (median, range)     float32 (median, range)    CPU 64→32",
          file=sys.stderr)
    for name in names:
        rs = [r for r in rows if r["data"] == name]
        v64 = [r["float64"]["value"] for r in rs]
        v32 = [r["float32"]["value"] for r in rs]
        c64 = sum(r["float64"]["cpu_s"] for r in rs)
        c32 = sum(r["float32"]["cpu_s"] for r in rs)
        print(f"{name:14s} {rs[0]['float64']['metric']:14s} {statistics.median(v64):.4g} ({min(v64):.4g}–"
              f"{max(v64):.4g})   {statistics.median(v32):.4g} ({min(v32):.4g}–{max(v32):.4g})   "
              f"{c64:.1f} s → {c32:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
