"""How fast the playground's train mode is in a real browser, and what the view costs the training.

    python benchmarks/playground_speed.py [--runs 7] [--seconds 3] [--dataset spiral]

For each BLAS thread count (1, 2) a playground server is started (the CLI, in a subprocess, with that thread
count) and opened in headless Chromium; then, interleaved, run by run:

* **with the view**: play for ``--seconds``; count the view updates the page drew (each a 50×50 output heatmap,
  the loss curves, per-layer |δ| and gradient-norm charts, per-neuron |δ|) and the epochs the server trained;
* **without**: the same training (same settings, same data, :class:`TrainSession`) in this process with no
  page, for the same time.

Prints medians and ranges of updates/s, epochs/s both ways and the slowdown (epochs/s without ÷ with).
There is no peer to run: the TensorFlow Playground trains in the browser's JavaScript, a different engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start_server(threads: int):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "deltaprop", "playground", "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("deltaprop playground: http"):
            return proc, line.split()[2]
        if not line:
            break
    proc.kill()
    raise SystemExit("the playground did not start")


def with_view(page, seconds: float, dataset: str) -> tuple[float, float]:
    page.click(f'[data-set="{dataset}"]')  # a fresh network and data set
    page.wait_for_function(f"window.__playground.data && window.__playground.data.config.dataset === '{dataset}'"
                           " && window.__playground.last && window.__playground.last.epoch === 0")
    page.click("#play")
    page.wait_for_function("window.__playground.playing && window.__playground.frames > 3")
    f0, e0, t0 = page.evaluate("[window.__playground.frames, window.__playground.last.epoch, performance.now()]")
    time.sleep(seconds)
    f1, e1, t1 = page.evaluate("[window.__playground.frames, window.__playground.last.epoch, performance.now()]")
    page.click("#play")
    page.wait_for_function("!window.__playground.playing")
    dt = (t1 - t0) / 1000
    return (f1 - f0) / dt, (e1 - e0) / dt


def without_view(seconds: float, dataset: str, threads: int) -> float:
    from threadpoolctl import threadpool_limits

    from deltaprop.view.playground.session import TrainSession

    with threadpool_limits(threads):
        s = TrainSession({"dataset": dataset})
        for _ in range(3):
            s.run_epoch()
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            s.run_epoch()
            n += 1
        return n / (time.perf_counter() - t0)


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):8.1f}  [{min(xs):.1f} … {max(xs):.1f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--dataset", default="spiral")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"playground train mode, {args.dataset}, default network (2 features, hidden 4, 2 tanh, batch 10), "
          f"50×50 heatmap; {args.runs} runs of {args.seconds:g} s; cores: {os.cpu_count()}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        for threads in (1, 2):
            proc, url = start_server(threads)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 950})
                page.goto(url + "#train")
                page.wait_for_function("window.__playground.data !== null")
                ups, with_e, without_e, ratio = [], [], [], []
                for run in range(args.runs):  # interleaved: with, without, with, without, …
                    u, e = with_view(page, args.seconds, args.dataset)
                    w = without_view(args.seconds, args.dataset, threads)
                    ups.append(u), with_e.append(e), without_e.append(w), ratio.append(w / e)
                page.close()
            finally:
                proc.terminate()
                proc.wait(10)
            print(f"\nBLAS threads: {threads}")
            print(f"  view updates/s (page drawn)        {summary(ups)}")
            print(f"  epochs/s with the view             {summary(with_e)}")
            print(f"  epochs/s without a view            {summary(without_e)}")
            print(f"  slowdown (without ÷ with)          {statistics.median(ratio):8.2f}  "
                  f"[{min(ratio):.2f} … {max(ratio):.2f}]")
        browser.close()


if __name__ == "__main__":
    main()
