"""Start-up cost: CPU time of `import deltaprop`, of `deltaprop --help` and, for scale, of `import numpy`.

Each is run as a fresh interpreter (`python -c ...`, `python -m deltaprop --help`) many times, the runs of the
three interleaved, and the CPU time (user + system) of each child is read from the operating system
(os.wait4), so a busy machine costs wall time but hardly CPU time. Prints medians with their range and, with
--json, one JSON line per measurement. Targets (issue 15): import ≤ 0.1 s, --help ≤ 0.3 s.

    python benchmarks/startup.py              # 9 runs each
    python benchmarks/startup.py --repeats 15 --json
    python benchmarks/startup.py --src OTHER/src   # another checkout (before/after)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEAVY = ("sympy", "scipy", "matplotlib", "sklearn", "rich", "pandas", "torch")


def cpu_of(cmd: list[str], env: dict) -> float:
    """CPU seconds (user + system) the child spent, from wait4; the child's output is discarded."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with status {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the deltaprop source tree to time")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": args.src}
    py = sys.executable
    cases = {
        "import numpy": [py, "-c", "import numpy"],
        "import deltaprop": [py, "-c", "import deltaprop"],
        "deltaprop --help": [py, "-m", "deltaprop", "--help"],
        "deltaprop train --help": [py, "-m", "deltaprop", "train", "--help"],
    }
    targets = {"import deltaprop": 0.1, "deltaprop --help": 0.3}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.repeats):
        names = list(cases)
        names = names[r % len(names):] + names[:r % len(names)]  # rotate the order, as the other benchmarks do
        for name in names:
            times[name].append(cpu_of(cases[name], env))
    loaded = subprocess.run([py, "-c", "import sys, deltaprop; print(' '.join(m for m in %r if m in sys.modules))"
                             % (HEAVY,)], env=env, capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    print(f"start-up CPU time, {args.repeats} runs each, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
          file=sys.stderr)
    for name, ts in times.items():
        med = statistics.median(ts)
        target = targets.get(name)
        verdict = "" if target is None else (f"  target ≤ {target} s: " + ("met" if med <= target else "NOT met"))
        print(f"  {name:24s} median {med:.3f} s  (range {min(ts):.3f}–{max(ts):.3f}){verdict}", file=sys.stderr)
        if args.json:
            print(json.dumps({"case": name, "cpu_s_median": med, "cpu_s_min": min(ts), "cpu_s_max": max(ts),
                              "repeats": args.repeats, "target_s": target, "loadavg": load}))
    print(f"  heavy modules loaded by `import deltaprop`: {loaded or 'none'}", file=sys.stderr)


if __name__ == "__main__":
    main()
