"""The long crash tier: SIGKILL `deltaprop train` at random moments, again and again, in one run directory, and
check that whatever is left either resumes to the weights of an uninterrupted run, bit for bit, or is refused
with one line saying why.

    PYTHONPATH=src python fuzz/crash.py --kills 100 --seed 0

Each episode trains one small network (a 120-row CSV, 40 tiny epochs, a checkpoint every epoch) into a fresh
directory, or (every second episode) into the directory of a finished run of another seed, with --overwrite,
killed as soon as its settings are on disk: the issue's "killed before its first checkpoint in a reused
directory", after which a resume must not continue the old run. A process is started (`train`, or `train --resume` once the run has its settings), killed after a
random delay spread over start-up and training, and the directory is checked after every kill: run.json and
config.toml parse, every metrics.jsonl line is JSON, the checkpoint loads. Between kills the episode also tries
what must be refused: a second `train` into the directory without --overwrite (exit 2, "already holds a run"),
and, while a process is alive, a concurrent `--resume` (exit 2, "in use"). At the end of an episode the run is
resumed to its end and its model and per-epoch losses compared with the uninterrupted run's.

Each kill is counted by where it landed: in start-up (nothing of the run on disk yet), before the first
checkpoint, mid-write (a temporary file of the run's own existed when the process died), and inside a resume.
Prints the counts; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parent.parent / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "deltaprop", *args]


def make_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "d", "y"])
        w.writerows([[*x, "p" if x[0] + x[1] * x[2] > 0 else "n"] for x in X])
    return path


def train_cmd(data: Path, out: Path) -> list[str]:
    return cli("train", "--data", str(data), "--hidden", "32", "--epochs", "40", "--checkpoint-every", "1", "--batch-size", "8",
               "--lr", "0.01", "--early-stopping", "0", "--out", str(out), "--quiet")


def own_temps(out: Path) -> list[Path]:
    try:
        ident = json.loads((out / "run.json").read_text())["id"]
    except (OSError, ValueError, KeyError):
        ident = None
    return [p for p in out.glob(".*.tmp") if (ident and f".{ident}-" in p.name) or p.name.startswith(".run.json.")]


def check_dir(out: Path) -> None:
    """After any kill every file of the run parses, and the checkpoint loads into the run's network."""
    if (out / "run.json").exists():
        json.loads((out / "run.json").read_text())
    if not (out / "config.toml").exists():
        return
    cfg = tomllib.loads((out / "config.toml").read_text())
    if (out / "metrics.jsonl").exists():
        for line in (out / "metrics.jsonl").read_text().splitlines()[:-1]:  # the last may be torn
            json.loads(line)
    if (out / "checkpoint.npz").exists():
        sys.path.insert(0, SRC)
        import deltaprop as dp
        from deltaprop.training import config, runs, train

        net = dp.Network([4, *cfg["hidden"], 2], cfg["activation"], cfg["loss"], output=cfg["output"], seed=0)
        runs.load_checkpoint(out / "checkpoint.npz", net, train.optimizer_for(config.config_from(cfg)),
                             runs.LoopState(np.random.default_rng(0)), 84)  # 120 − 20 % test − 10 % val


def model_arrays(out: Path) -> dict:
    with np.load(out / "model.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k[0] in "Wb"}


def losses(out: Path) -> list:
    return [json.loads(s)["train_loss"] for s in (out / "metrics.jsonl").read_text().splitlines()]


def refused(cmd, needle: str) -> bool:
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    return r.returncode == 2 and len(lines) == 1 and needle in lines[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--per-episode", type=int, default=10, help="kills in one run directory before it is finished")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="deltaprop-crash-"))
    data = make_csv(tmp / "data.csv")
    whole = tmp / "whole"
    t0 = time.perf_counter()
    p = subprocess.Popen(train_cmd(data, whole), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (whole / "config.toml").exists() and p.poll() is None:
        time.sleep(0.002)
    startup = time.perf_counter() - t0
    if p.wait() != 0:
        print(p.stderr.read().decode())
        return 1
    work = time.perf_counter() - t0 - startup
    print(f"uninterrupted run: start-up {startup:.2f} s, training {work:.2f} s")
    ref, ref_losses = model_arrays(whole), losses(whole)
    counts, failures, episodes, kills = Counter(), [], 0, 0
    t_start = time.perf_counter()
    while kills < args.kills:
        episodes += 1
        out = tmp / f"run{episodes}"
        cmd, in_episode = train_cmd(data, out), 0
        reused = episodes % 2 == 0
        if reused:  # the case: a finished run of other settings, replaced, killed before a checkpoint
            subprocess.run(train_cmd(data, out)[:-1] + ["--seed", "5", "--quiet"], env=ENV, capture_output=True,
                           check=True)
            cmd = cmd + ["--overwrite"]
        while in_episode < args.per_episode and kills < args.kills:
            resuming = "--resume" in cmd
            delay = rng.uniform(0.3 * startup, startup + 1.5 * work / args.per_episode)
            p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                if reused and in_episode == 0:  # as soon as the new settings are on disk
                    t_end = time.monotonic() + 60
                    while time.monotonic() < t_end and p.poll() is None and "seed = 0" not in (
                            (out / "config.toml").read_text() if (out / "config.toml").exists() else ""):
                        time.sleep(0.001)
                    delay = 0.0
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                if rng.random() < 0.15 and (out / "run.json").exists():  # while it lives: a second process
                    if not refused(cli("train", "--resume", str(out), "--quiet"), "in use by another"):
                        if p.poll() is None:
                            failures.append(f"episode {episodes}: a concurrent --resume was not refused")
                        else:
                            counts["concurrent: holder finished first"] += 1
                    else:
                        counts["concurrent --resume refused"] += 1
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                in_episode += 1
                temps = own_temps(out)
                where = ("start-up" if not (out / "run.json").exists() else
                         "mid-write" if temps else
                         "before the first checkpoint" if not (out / "checkpoint.npz").exists() else "training")
                counts[where] += 1
                counts["inside a resume"] += resuming
                counts["reused directory, killed after --overwrite"] += reused and in_episode == 1
            else:
                if p.returncode != 0:
                    failures.append(f"episode {episodes}: exit {p.returncode}: {p.stderr.read().decode()[-300:]}")
                break  # the run finished before the kill
            try:
                check_dir(out)
            except Exception as e:  # noqa: BLE001 - any failure to parse is a finding
                failures.append(f"episode {episodes}, kill {kills}: the directory does not parse: {e!r}")
            if (out / "config.toml").exists():
                if rng.random() < 0.2:  # a careless second training into the same directory
                    if refused(train_cmd(data, out), "already holds a run"):
                        counts["second train refused"] += 1
                    else:
                        failures.append(f"episode {episodes}: a second train into the run was not refused")
                cmd = cli("train", "--resume", str(out), "--quiet")
        if not (out / "model.npz").exists():  # the last kill left it unfinished: finish it as a user would
            finish = cli("train", "--resume", str(out), "--quiet") if (out / "config.toml").exists() else cmd
            r = subprocess.run(finish, env=ENV, capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"episode {episodes}: finishing the run failed: {r.stderr[-300:]}")
                continue
        got = model_arrays(out)
        same = got.keys() == ref.keys() and all(np.array_equal(got[k], ref[k]) for k in ref)
        if not same or losses(out) != ref_losses:
            failures.append(f"episode {episodes}: the resumed model differs from the uninterrupted run")
        else:
            counts["episodes bit-identical"] += 1
        user = [p for p in out.glob(".*.tmp")]
        if user:
            failures.append(f"episode {episodes}: temporary files left: {user}")
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - t_start
    print(f"seed {args.seed}: {kills} SIGKILLs in {episodes} episodes, {seconds:.0f} s; " +
          ", ".join(f"{k} {v}" for k, v in counts.items()))
    for f in failures:
        print("FAILURE:", f)
    print(f"{len(failures)} failures")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
