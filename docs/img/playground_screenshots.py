"""Takes docs/img/playground-inspect.png and docs/img/playground-train.png with headless Chromium.

    python docs/img/playground_screenshots.py [--train-seconds 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-seconds", type=float, default=12)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "deltaprop", "playground", "examples/exam_004.toml", "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:
            if line.startswith("deltaprop playground: http"):
                url = line.split()[2]
                break
        assert url, "the playground did not start"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector('[data-q="delta"][data-id="6"]')
            page.click('#net .elabel[data-edge="4->6"]')
            page.wait_for_selector("#derivation .katex")
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "playground-inspect.png")
            page.click("#tab-train")
            page.wait_for_function("window.__playground.data !== null")
            page.click('[data-set="spiral"]')
            for f in ("x1sq", "x2sq", "sinx1", "sinx2"):
                page.check(f'#features input[value="{f}"]')
            page.click("#add-layer")
            page.click('#layers button[data-l="2"][data-d="1"]')
            page.click('#layers button[data-l="1"][data-d="1"]')
            page.click('#layers button[data-l="1"][data-d="1"]')
            page.click('#layers button[data-l="0"][data-d="1"]')
            page.click('#layers button[data-l="0"][data-d="1"]')
            page.wait_for_timeout(500)
            page.click("#play")
            time.sleep(args.train_seconds)
            page.click("#play")
            page.wait_for_function("!window.__playground.playing")
            page.hover('#train-net .tneuron[data-layer="1"][data-j="1"]')
            page.wait_for_timeout(600)
            page.screenshot(path=OUT / "playground-train.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print("wrote", OUT / "playground-inspect.png", OUT / "playground-train.png")


if __name__ == "__main__":
    main()
