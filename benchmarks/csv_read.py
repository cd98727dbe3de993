"""Reading the CSV of issue 13: 20,000 rows × 785 columns (784 integer "pixels" 0–255 and a label 0–9), 56 MB.

    python benchmarks/csv_read.py [--runs 7] [--threads 1,2] [--keep PATH]

Each reader runs in a fresh subprocess (so one's memory cannot hide in another's), interleaved run by run:
``deltaprop`` is the path users run, ``dp.load_data(path)`` (pyarrow's streaming CSV reader into one float64
matrix, the cell checks, the one-hot targets); ``pandas`` is ``pd.read_csv(path)`` with its default C engine,
the issue's 1.8 s reference; ``pandas-pyarrow`` is ``pd.read_csv(path, engine="pyarrow")``, each followed by
``.to_numpy(float)`` of the features, since that is what training needs. Time is the read alone; memory is the
peak resident size during the read minus the resident size after the imports (``ru_maxrss``; every reader's
imports, pandas included, come before that baseline: pyarrow imports pandas to convert), both as
medians with [min–max] over the runs. Threads: pyarrow's CPU pool and the BLAS (not used here) are set to the
count given. The targets: ≤ 3 s and ≤ 3× the file's size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROWS, PIXELS = 20_000, 784

CHILD = r"""
import json, resource, sys, time
threads = int(sys.argv[3])
import numpy as np, pyarrow as pa
pa.set_cpu_count(threads); pa.set_io_thread_count(threads)
which, path = sys.argv[1], sys.argv[2]
import pandas as pd  # every reader's imports come before the baseline (pyarrow imports pandas to convert)
if which == "deltaprop":
    import deltaprop as dp
    from deltaprop.data import readers  # noqa: F401
    import pyarrow.compute, pyarrow.csv  # noqa: F401
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if which == "deltaprop":
    ds = dp.load_data(path)
    shape = ds.X.shape
elif which == "pandas":
    df = pd.read_csv(path)
    X = df.drop(columns="label").to_numpy(float)
    shape = X.shape
else:
    df = pd.read_csv(path, engine="pyarrow")
    X = df.drop(columns="label").to_numpy(float)
    shape = X.shape
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "extra_mib": (peak - base) / 1024, "shape": list(shape)}))
"""


def make_file(path: Path) -> None:
    rng = np.random.default_rng(0)
    A = np.column_stack([rng.integers(0, 256, (ROWS, PIXELS)), rng.integers(0, 10, ROWS)])
    with open(path, "w") as f:
        f.write(",".join([f"p{j}" for j in range(PIXELS)] + ["label"]) + "\n")
        np.savetxt(f, A, fmt="%d", delimiter=",")


def one(which: str, path: Path, threads: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", CHILD, which, str(path), str(threads)], env=env, check=True,
                       capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--keep", help="write (or reuse) the CSV here instead of a temporary directory")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "issue13.csv"
        if not path.exists():
            make_file(path)
        size_mib = path.stat().st_size / 2**20
        print(f"{path.name}: {ROWS} × {PIXELS + 1}, {path.stat().st_size / 1e6:.1f} MB; {args.runs} runs each, "
              "interleaved, a fresh process per run")
        readers = ("deltaprop", "pandas", "pandas-pyarrow")
        for threads in (int(t) for t in args.threads.split(",")):
            res = {w: [] for w in readers}
            for _ in range(args.runs):
                for w in readers:
                    res[w].append(one(w, path, threads))
            print(f"\nthreads {threads}")
            print(f"{'reader':16} {'seconds':>22} {'extra memory (MiB)':>26} {'× file':>8}")
            for w in readers:
                s = [r["seconds"] for r in res[w]]
                m = [r["extra_mib"] for r in res[w]]
                print(f"{w:16} {statistics.median(s):8.2f} [{min(s):.2f}–{max(s):.2f}] "
                      f"{statistics.median(m):12.0f} [{min(m):.0f}–{max(m):.0f}] "
                      f"{statistics.median(m) / size_mib:8.2f}")
            ratio = [a["seconds"] / b["seconds"] for a, b in zip(res["deltaprop"], res["pandas"])]
            print(f"deltaprop / pandas time, run by run: median {statistics.median(ratio):.2f} "
                  f"[{min(ratio):.2f}–{max(ratio):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
