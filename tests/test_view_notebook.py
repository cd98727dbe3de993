"""Notebook displays, drawings, run figures, the progress bar and the bundled examples (issue 14)."""

import contextlib
import io
import math
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.view import drawing

from conftest import central_differences

ROOT = Path(__file__).resolve().parents[1]
HAS_DOT = drawing.dot_available()



def weight_differences(net, x, t):
    """Central differences of the cost in every weight of a neuron graph (the weights restored after)."""
    w0 = net.w.copy()

    def cost(w):
        net.w[...] = w
        return net.cost(x, t)

    fd = central_differences(cost, w0)
    net.w[...] = w0
    return fd

def cli(*args, expect=0):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(map(str, args)))
    assert status == expect, err.getvalue()
    return out.getvalue(), err.getvalue()


def sig(v):
    return 1 / (1 + math.exp(-v))


def exam():
    net = dp.load_network(dp.example("exam_004"))
    return net, *net.sample


# --- short reprs -----------------------------------------------------------------------------------------------


def test_reprs_are_short_and_name_what_matters():
    net, x, t = exam()
    layered = dp.Network([3, 4, 2], "tanh", "cross_entropy", output="softmax", seed=0)
    X, T = np.ones((5, 3)), np.eye(2)[[0, 1, 0, 1, 1]]
    run = dp.fit((np.random.default_rng(0).standard_normal((40, 2)), np.arange(40) % 2), hidden=[3], epochs=2,
                 verbose=False)
    objects = [net, layered, layered.forward(X), layered.loss_and_grads(X, T), net.forward(x),
               net.loss_and_grads(x, t), dp.derive(net, x, t, "z3"), dp.gradcheck(net, x, t), run, run.model]
    for obj in objects:
        text = repr(obj)
        assert len(text) < 200 and "array(" not in text, text
    assert "epochs=2" in repr(run) and "hidden=[3]" in repr(run)
    assert "sizes=[2, 3, 2]" in repr(run.model)


# --- drawings ---------------------------------------------------------------------------------------------------


def _labels(dot: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(n\d+) \[label=\"([^\"]*)\"", dot, re.M))


def test_exam_drawing_shows_the_forward_values_and_the_finite_difference_gradients():
    net, x, t = exam()
    d = net.draw(x, t)
    dot = d.dot
    # z and a of neuron 3 by hand: z3 = w13 x1 + w23 x2 + b3 (the file's numbers)
    z3 = 0.4 * 0.7 + (-0.7) * (-1.2) + 0.1
    label3 = _labels(dot)[f"n{net.index['3']}"]
    assert f"z = {z3:.4g}" in label3 and f"a = {sig(z3):.4g}" in label3
    # every edge carries ∂C/∂w, compared with central differences of the cost (an oracle apart from backprop)
    w0 = net.w.copy()
    fd = weight_differences(net, x, t)
    edge_labels = re.findall(r"^\s+(n\d+) -> (n\d+) \[color=\"[^\"]+\", label=\"w=([^\\]+)\\n∂C/∂w=([^\"]+)\"\]",
                             dot, re.M)
    assert len(edge_labels) == len(net.edges)
    for (src, dst, w, g) in edge_labels:
        e = next(k for k, (i, j) in enumerate(net.edges) if f"n{net.index[i]}" == src and f"n{net.index[j]}" == dst)
        assert float(w) == pytest.approx(w0[e], rel=1e-3)
        assert float(g) == pytest.approx(fd[e], rel=1e-3, abs=1e-6)


def test_layered_drawing_collapses_wide_layers():
    d = dp.Network([784, 30, 10], "sigmoid", seed=0).draw()
    titles = [v.title for v in d.nodes]
    assert "… 773 more" in titles and "… 19 more" in titles
    assert sum(v.kind != "more" for v in d.nodes) == 11 + 11 + 10


def test_without_graphviz_svg_is_drawn_here_and_png_says_why(tmp_path, monkeypatch):
    net, x, t = exam()
    d = net.draw(x, t)

    def missing(*a, **k):
        raise drawing.DotMissing("no dot")

    monkeypatch.setattr(drawing, "render", missing)
    svg = d.svg()
    root = ET.fromstring(svg)  # well-formed
    texts = "".join(root.itertext())
    assert "δ = " in texts and all(i in texts for i in net.ids)
    with pytest.raises(dp.DeltapropError, match="dot"):
        d.save(tmp_path / "net.png")
    assert (d.save(tmp_path / "net.svg")).read_text().startswith("<svg")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_cli_draw_writes_svg_png_pdf(tmp_path):
    for name, magic in (("n.svg", b"<"), ("n.png", b"\x89PNG"), ("n.pdf", b"%PDF")):
        out, _ = cli("draw", "exam_004", "--grads", "-o", tmp_path / name)
        assert (tmp_path / name).read_bytes().lstrip()[:len(magic)] == magic
    _, err = cli("draw", "exam_004", "-o", tmp_path / "n.jpg", expect=2)
    assert "svg, png, pdf" in err and len(err.strip().splitlines()) == 1


def test_network_html_has_the_drawing_after_the_sample():
    net, x, t = exam()
    page = net._repr_html_()
    assert "<svg" in page and "δ" in page and "[sample]" in page


# --- derivations render ------------------------------------------------------------------------------------------


def test_derivation_markdown_is_the_worked_solution():
    net, x, t = exam()
    r = dp.derive(net, x, t, "z3")
    md = r._repr_markdown_()
    for k in ("3", "4", "5", "6"):
        assert f"\\delta_{{{k}}}" in md
    assert f"{r.value:.10g}" in md
    assert md.count("$$") % 2 == 0
    assert "Gaussian" in dp.likelihood("gaussian")._repr_markdown_()


# --- runs: figures leave the backend alone; progress bar -------------------------------------------------------


def test_fit_with_out_leaves_the_backend_and_pyplot_alone(tmp_path):
    script = textwrap.dedent(f"""
        import matplotlib
        matplotlib.use("pdf")
        import matplotlib.pyplot as plt
        import deltaprop as dp
        run = dp.fit("xor", hidden=[4], epochs=2, out={str(tmp_path / 'run')!r}, verbose=False)
        fig = run.plot()
        print(matplotlib.get_backend(), plt.get_fignums(), type(fig).__name__, len(fig.axes))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "MPLBACKEND": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["pdf", "[]", "Figure"]
    assert (tmp_path / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_progress_bar_with_verbose_and_none_in_a_log(capsys):
    data = (np.random.default_rng(0).standard_normal((30, 2)), np.arange(30) % 2)
    dp.fit(data, hidden=[3], epochs=3, verbose=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "epoch" in err
    dp.fit(data, hidden=[3], epochs=3)  # stderr is not a terminal here, nor a notebook: no bar by default
    assert capsys.readouterr().err == ""
    dp.fit(data, hidden=[3], epochs=3, verbose=False)
    assert capsys.readouterr().err == ""


def test_run_html_has_the_curves_and_the_figures():
    data = (np.random.default_rng(0).standard_normal((30, 2)), np.arange(30) % 2)
    run = dp.fit(data, hidden=[3], epochs=3, verbose=False)
    page = run._repr_html_()
    assert "data:image/png;base64," in page and "accuracy" in page


# --- bundled examples ------------------------------------------------------------------------------------------


def test_examples_list_copy_and_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, _ = cli("examples")
    files = sorted(p.stem for p in (ROOT / "examples").glob("*.toml"))
    for name in files:
        assert name in out
    cli("examples", "exam_004")
    assert (tmp_path / "exam_004.toml").read_bytes() == (ROOT / "examples" / "exam_004.toml").read_bytes()
    _, err = cli("examples", "exam_004", expect=2)  # never overwrites without --force
    assert "--force" in err
    _, err = cli("examples", "exam_04", expect=2)
    assert "did you mean 'exam_004'" in err


def test_trace_and_derive_take_an_example_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no examples/ here: the bundled ones are found
    by_name, _ = cli("derive", "exam_004", "--wrt", "z3", "--format", "json")
    by_path, _ = cli("derive", ROOT / "examples" / "exam_004.toml", "--wrt", "z3", "--format", "json")
    assert by_name == by_path
    readme_style, _ = cli("trace", "examples/layered_2-3-2.toml", "--json")
    assert readme_style == cli("trace", ROOT / "examples" / "layered_2-3-2.toml", "--json")[0]


def test_trace_tables_hold_the_step_that_finite_differences_give():
    net, x, t = exam()
    k = 0.1
    w0 = net.w.copy()
    fd = weight_differences(net, x, t)
    r = dp.trace(net, lr=k)
    page = r._repr_html_()
    for e, (i, j) in enumerate(net.edges):
        row = re.search(rf"<td>{i} → {j}</td><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>", page)
        assert row, (i, j)
        assert float(row.group(1)) == pytest.approx(fd[e], rel=1e-3, abs=1e-6)
        assert float(row.group(2)) == pytest.approx(w0[e] - k * fd[e], rel=1e-3, abs=1e-6)
    assert "TraceReport(loss=" in repr(r) and len(repr(r)) < 100


def test_cli_draw_without_dot_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "dot_available", lambda: False)

    def missing(*a, **k):
        raise drawing.DotMissing("no dot")

    monkeypatch.setattr(drawing, "render", missing)
    _, err = cli("draw", "exam_004", "-o", tmp_path / "n.png", expect=2)
    assert len(err.strip().splitlines()) == 1 and "dot" in err and "n.svg" in err
    assert not (tmp_path / "n.png").exists()
    out, err = cli("draw", "exam_004", "--grads", "-o", tmp_path / "n.svg")
    assert "drawn without it" in err and ET.parse(tmp_path / "n.svg").getroot().tag.endswith("svg")
