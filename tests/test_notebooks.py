"""The notebook of issue 14's "done when", executed as a student would run it (nbclient, a real kernel)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def _outputs(nb, source_start: str) -> list:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))
    return cell.outputs


def test_exam_and_spiral_notebook(tmp_path, monkeypatch):
    nb = nbformat.read(ROOT / "docs/notebooks/exam_and_spiral.ipynb", as_version=4)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "")  # the kernel's own default (inline), as in Jupyter
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    kinds = lambda outs: {k for o in outs for k in o.get("data", {})}  # noqa: E731

    assert "image/svg+xml" in kinds(_outputs(nb, "x, t = net.sample"))  # the drawing
    net_out = _outputs(nb, "net = dp.load_network")[0]["data"]["text/html"]
    assert "<svg" in net_out and "δ = " in net_out  # the network after its sample
    md = _outputs(nb, 'dp.derive(net, x, t, "z3")')[0]["data"]["text/markdown"]
    assert "\\delta_{3}" in md and "Value at the sample" in md  # the rendered derivation
    bar = _outputs(nb, "run = dp.fit")
    html_bar = " ".join(o.get("data", {}).get("text/html", "") for o in bar)
    assert "<progress" in html_bar and "500/500" in html_bar  # the progress bar, at its end
    run_html = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "run").outputs[0]
    assert "data:image/png;base64" in run_html["data"]["text/html"]  # the curves
    assert "image/png" in kinds(_outputs(nb, "run.plot()"))
    later = _outputs(nb, 'print("backend:"')
    assert any("backend: inline" in o.get("text", "") for o in later)
    assert "image/png" in kinds(later)  # plt.show() still shows the figure after dp.fit
