"""`deltaprop train --data digits` end to end, as a user runs it: CPU time (user + system, from os.wait4),
wall time and the test accuracy, for this checkout and optionally a baseline checkout, interleaved; and the
same work in scikit-learn (MLPClassifier: 256 ReLU units, Adam at 0.002, batches of 64, at most 60 epochs,
early stopping with patience 10, 20 % test split; one BLAS thread, as deltaprop's policy picks for digits) as
a fresh interpreter too, for scale.

    python benchmarks/digits_end_to_end.py --repeats 7
    python benchmarks/digits_end_to_end.py --baseline ../main/src --repeats 7 --json
    python benchmarks/digits_end_to_end.py -- --dtype float64       # flags after -- go to deltaprop train
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SKLEARN = """
import numpy as np, warnings
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
X, y = load_digits(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
s = StandardScaler().fit(Xtr)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = MLPClassifier((256,), batch_size=64, learning_rate_init=0.002, max_iter=60, early_stopping=True,
                      validation_fraction=0.1, n_iter_no_change=10, random_state=0).fit(s.transform(Xtr), ytr)
print(m.score(s.transform(Xte), yte))
"""


def run(cmd: list[str], env: dict, out_dir: Path | None) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    if out_dir is not None:
        acc = json.loads((out_dir / "metrics.json").read_text())["test_accuracy"]
    else:
        acc = float(stdout.strip().splitlines()[-1])
    return usage.ru_utime + usage.ru_stime, wall, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--src", default=str(HERE.parent / "src"))
    ap.add_argument("--baseline", default=None, help="another checkout's src/ to run interleaved")
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("extra", nargs="*", help="flags for deltaprop train (after --)")
    args = ap.parse_args()
    peers = {"deltaprop": args.src}
    if args.baseline:
        peers["baseline"] = args.baseline
    if not args.no_sklearn:
        peers["sklearn"] = None
    results = {k: [] for k in peers}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            names = list(peers)
            names = names[r % len(names):] + names[:r % len(names)]
            for name in names:
                src = peers[name]
                if src is None:
                    one = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # as deltaprop
                    results[name].append(run([sys.executable, "-c", SKLEARN], one, None))  # picks for digits
                    continue
                out = Path(tmp) / f"{name}-{r}"
                cmd = [sys.executable, "-m", "deltaprop", "train", "--data", "digits", "--out", str(out), "-q",
                       *args.extra]
                results[name].append(run(cmd, {**os.environ, "PYTHONPATH": src}, out))
    load = os.getloadavg()
    print(f"digits end to end, {args.repeats} interleaved runs each; load average {load[0]:.1f} {load[1]:.1f} "
          f"{load[2]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    for name, rs in results.items():
        cpu, wall, acc = ([x[i] for x in rs] for i in range(3))
        print(f"  {name:10s} CPU {statistics.median(cpu):.2f} s ({min(cpu):.2f}–{max(cpu):.2f})  wall "
              f"{statistics.median(wall):.2f} s ({min(wall):.2f}–{max(wall):.2f})  test accuracy "
              f"{statistics.median(acc):.4f} ({min(acc):.4f}–{max(acc):.4f})", file=sys.stderr)
        if args.json:
            print(json.dumps({"peer": name, "cpu_s": cpu, "wall_s": wall, "test_accuracy": acc,
                              "cpu_s_median": statistics.median(cpu), "loadavg": load, "extra": args.extra}))
    if "baseline" in results:
        ratio = [b[0] / a[0] for a, b in zip(results["deltaprop"], results["baseline"])]
        print(f"  CPU time, this checkout ÷ baseline: median {1 / statistics.median(ratio):.2f} "
              f"(range {1 / max(ratio):.2f}–{1 / min(ratio):.2f})", file=sys.stderr)


if __name__ == "__main__":
    main()
