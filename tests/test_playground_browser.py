"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright.

The server is the CLI itself (``deltaprop playground FILE --port 0 --no-browser``) in a subprocess; every
number read off the page is compared with ``deltaprop trace --json`` or the public API, to the precision
the page shows (4 significant digits: |shown − true| ≤ 5·10⁻⁴ |true|). Skips, saying why, where no Chromium
or no Playwright is installed; CI installs Chromium (.ci/run) and runs these.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAM = ROOT / "examples" / "exam_004.toml"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XOR_TEST_LOSS = 0.15  # binary cross-entropy on the held-out half of xor …
XOR_TIME_LIMIT_S = 20  # … reached within this many seconds of pressing play (about 1 s on 2 cores)


def chromium() -> str | None:
    for c in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if c and Path(c).exists():
            return c
    return None


sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')")
if chromium() is None:
    pytest.skip("no Chromium found (/usr/bin/chromium or $CHROMIUM; on Debian: apt-get install -y chromium)",
                allow_module_level=True)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "deltaprop", "playground", str(EXAM), "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        deadline, url = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("deltaprop playground: http"):
                url = line.split()[2]
                break
        assert url, "the playground did not start"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context(viewport={"width": 1500, "height": 950}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.goto(server)
    pg.wait_for_selector('[data-q="delta"][data-id="6"]')
    yield pg
    context.close()


@pytest.fixture()
def fresh(page):
    """The exam network as the file has it, nothing selected, edges showing w."""
    if not page.is_visible("#inspect"):
        page.click("#tab-inspect")
    page.click("#reset-net")
    page.wait_for_function("document.querySelector('#derivation').innerHTML === ''")
    if page.is_checked("#show-grads"):
        page.uncheck("#show-grads")
    return page


def shown(page) -> dict[tuple[str, str], str]:
    """Every number on the drawing: (quantity, id) -> its text."""
    return {(q, i): t for q, i, t in page.eval_on_selector_all(
        "#net [data-q]", "els => els.map(e => [e.dataset.q, e.dataset.id, e.textContent])")}


def close(text: str, value: float) -> bool:
    return abs(float(text) - value) <= 5e-4 * abs(value) + 1e-300


def test_exam_numbers_on_the_drawing_are_the_cli_trace(fresh):
    page = fresh
    trace = json.loads(cli("trace", str(EXAM), "--json").stdout)
    values = shown(page)
    for j, n in trace["neurons"].items():
        for q, key in (("z", "z"), ("a", "a"), ("sp", "sigma_prime"), ("delta", "delta")):
            assert close(values[q, j], n[key]), (q, j, values[q, j], n[key])
    for i, n in trace["inputs"].items():
        assert close(values["a", i], n["x"]) and close(values["dx", i], n["grad"])
    for j, b in trace["biases"].items():
        assert close(values["b", j], b["value"]) and close(values["db", j], b["grad"])
    for k, w in trace["weights"].items():
        assert close(values["w", k], w["value"])
    page.check("#show-grads")
    values = shown(page)
    for k, w in trace["weights"].items():
        assert close(values["dw", k], w["grad"]), (k, values["dw", k], w["grad"])
    assert close(page.text_content('[data-q="loss"]'), trace["loss"])
    assert len([k for k in values if k[0] == "dw"]) == len(trace["weights"]) == 11


def test_editing_w46_changes_delta3_to_the_engines_value(fresh):
    page = fresh
    old = page.text_content('#net [data-q="delta"][data-id="3"]')
    page.fill('#param-table input[data-edit="weight"][data-key="4->6"]', "-0.2")
    page.press('#param-table input[data-edit="weight"][data-key="4->6"]', "Enter")
    page.wait_for_function(f"document.querySelector('#net [data-q=\"delta\"][data-id=\"3\"]').textContent !== {old!r}")
    import deltaprop as dp

    f = dp.read_network(EXAM)
    net, (X, T) = f.network, f.sample
    net.w[net.edges.index(("4", "6"))] = -0.2
    delta3 = float(net.loss_and_grads(X, T).delta[net.index["3"], 0])
    assert close(page.text_content('#net [data-q="delta"][data-id="3"]'), delta3)
    assert close(page.text_content('#net [data-q="w"][data-id="4->6"]'), -0.2)


def test_clicking_w46_shows_its_update_derivation(fresh):
    page = fresh
    page.fill("#lr", "0.1")
    page.click('#net .elabel[data-edge="4->6"]')
    page.wait_for_selector("#derivation .katex")
    text = page.text_content("#derivation")
    g = json.loads(cli("trace", str(EXAM), "--json").stdout)["weights"]["4->6"]
    assert "Update with step K = 0.1" in text
    assert f"{g['value'] - 0.1 * g['grad']:.10g}" in text  # w46 − K ∂L/∂w46, as the derive CLI prints it
    assert page.locator("#derivation .katex-display").count() >= 4  # the δ steps, the chain rule, the full form
    assert page.locator("#derivation .katex-error").count() == 0


def test_bad_formula_shows_the_cli_error_and_nothing_else_changes(fresh, tmp_path):
    page = fresh
    before = shown(page)
    page.fill('#param-table input[data-edit="activation"][data-key="6"]', "z**")
    page.press('#param-table input[data-edit="activation"][data-key="6"]', "Enter")
    err = page.locator('[data-err="activation:6"]')
    err.wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-err=\"activation:6\"]').textContent !== ''")
    bad = tmp_path / "exam_004.toml"
    bad.write_text(EXAM.read_text().replace('activation = "z**2"', 'activation = "z**"'))
    out = cli("trace", str(bad))
    assert out.returncode == 2
    assert err.text_content() == out.stderr.strip().removeprefix("deltaprop: error: ").replace(str(bad), str(EXAM))
    assert shown(page) == before
    old_loss = page.text_content('[data-q="loss"]')
    page.fill("#loss-field", "(a - t)**2 + a")  # a loss of one's own: every δ changes, the error stays by its field
    page.press("#loss-field", "Enter")
    page.wait_for_function("document.querySelector('[data-q=\"loss\"]').textContent !== " + repr(old_loss))
    a6 = float(json.loads(cli("trace", str(EXAM), "--json").stdout)["neurons"]["6"]["a"])
    assert close(page.text_content('[data-q="loss"]'), (a6 - 1.5) ** 2 + a6)


def test_step_backward_reveals_delta_last_neuron_first(fresh):
    page = fresh
    page.click("#step-back")
    assert page.text_content('#net [data-q="delta"][data-id="3"]') == "?"
    assert page.text_content('#net [data-q="delta"][data-id="6"]') != "?"
    for _ in range(3):
        page.click("#step-back")
    assert "neuron 3" in page.text_content("#backstep")
    assert page.locator("#backstep .katex").count() >= 1
    assert "?" not in [t for (q, _), t in shown(page).items() if q == "delta"]


def test_downloaded_toml_read_back_by_the_cli_gives_the_same_trace(fresh, tmp_path):
    page = fresh
    page.fill('#param-table input[data-edit="bias"][data-key="5"]', "0.4")
    page.press('#param-table input[data-edit="bias"][data-key="5"]', "Enter")
    page.wait_for_function("document.querySelector('#net [data-q=\"b\"][data-id=\"5\"]').textContent === '0.4000'")
    on_page = shown(page)
    with page.expect_download() as d:
        page.click("#download")
    path = tmp_path / "down.toml"
    d.value.save_as(path)
    trace = json.loads(cli("trace", str(path), "--json").stdout)
    assert trace["biases"]["5"]["value"] == 0.4
    for j, n in trace["neurons"].items():
        assert close(on_page["delta", j], n["delta"]) and close(on_page["z", j], n["z"])
    # and the same file opened on the page again shows the same numbers
    page.set_input_files("#open-file", str(path))
    page.wait_for_function("document.querySelector('#net-source').textContent === 'down.toml'")
    assert shown(page) == on_page


def test_training_xor_reaches_the_test_loss_within_the_time_limit(page):
    page.click("#tab-train")
    page.wait_for_function("window.__playground.data !== null")
    page.click('[data-set="xor"]')
    page.wait_for_function("window.__playground.data && window.__playground.data.config.dataset === 'xor'"
                           " && window.__playground.last && window.__playground.last.epoch === 0")
    t0 = time.monotonic()
    page.click("#play")
    page.wait_for_function(f"parseFloat(document.querySelector('#test-loss').textContent) < {XOR_TEST_LOSS}",
                           timeout=XOR_TIME_LIMIT_S * 1000)  # the number the page shows
    elapsed = time.monotonic() - t0
    page.click("#play")  # pause
    page.wait_for_function("!window.__playground.playing")
    assert elapsed < XOR_TIME_LIMIT_S
    f = page.evaluate("window.__playground.last")
    assert len(f["heatmap"]) == 2500 and len(f["mean_delta"]) == 3
    # the inspect view of the current mini-batch: its numbers are the engine's for that network and batch
    page.click("#inspect-batch")
    page.wait_for_function("document.querySelector('#net-source').textContent.startsWith('xor at epoch')")
    assert page.is_visible("#inspect")
    assert page.locator('#net [data-q="delta"]').count() == 4 + 2 + 1


def test_no_console_errors(page):
    assert page.console_errors == []
