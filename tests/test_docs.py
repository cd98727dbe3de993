"""The documentation site builds strictly, its commands are deltaprop's live output, and its notebooks run.

`mkdocs build --strict` fails on a broken link, a failing command in a page (docs/hooks/deltaprop_run.py) or a
notebook cell that raises (mkdocs-jupyter executes them).
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings")
pytest.importorskip("mkdocs_jupyter")


def _env():
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": ""}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _build(config: Path, site: Path):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, timeout=600, cwd=config.parent, env=_env())


def _cli(*args) -> str:
    from deltaprop.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


@pytest.mark.slow
def test_site_builds_strictly_with_live_outputs(tmp_path):
    site = tmp_path / "site"
    r = _build(ROOT / "mkdocs.yml", site)
    assert r.returncode == 0, r.stderr[-3000:]
    for page in ("index.html", "exercises/000/index.html", "exercises/001/index.html", "exercises/002/index.html",
                 "exercises/003/index.html", "exercises/004/index.html", "cli/index.html", "api/index.html",
                 "notebooks/exam_and_spiral/index.html", "notebooks/lab_02456/index.html"):
        assert (site / page).is_file(), page
    import html

    page = html.unescape((site / "exercises/004/index.html").read_text())
    # the command's output, as deltaprop prints it now, is in the page
    value_line = _cli("derive", str(ROOT / "examples/exam_004.toml"), "--wrt", "z3", "--expanded",
                      "--notation", "exam").strip().splitlines()[-1]
    assert value_line in page
    cli_page = html.unescape((site / "cli/index.html").read_text())
    for sub in ("train", "trace", "derive", "gradcheck", "draw", "examples"):
        assert f"deltaprop {sub}" in cli_page
    api = (site / "api/index.html").read_text()
    assert "loss_and_grads" in api and "TrainConfig" in api
    nb = (site / "notebooks/exam_and_spiral/index.html").read_text()
    assert "<svg" in nb and "data:image/png;base64" in nb  # the drawing and the executed figures


def test_a_failing_command_fails_the_build(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# x\n\n```deltaprop\ndeltaprop trace no_such_network\n```\n")
    (tmp_path / "mkdocs.yml").write_text(f"site_name: t\nhooks:\n  - {ROOT / 'docs/hooks/deltaprop_run.py'}\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "no_such_network" in r.stderr
    # and the same page with the status it expects builds, showing the one-line error
    (tmp_path / "docs" / "index.md").write_text("# x\n\n```deltaprop\ndeltaprop trace no_such_network  # exit 2\n```\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr
    assert "no such file or example" in (tmp_path / "site" / "index.html").read_text()


def test_a_broken_link_fails_the_build(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# x\n\nsee [the guide](nowhere.md)\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "nowhere.md" in r.stderr
