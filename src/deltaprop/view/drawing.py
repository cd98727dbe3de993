"""Drawings of a network: every neuron and weight, with z, a, δ = ∂C/∂z and ∂C/∂w of a sample on request.

    drawing = draw(net)                           # structure: sizes, activations, weights
    drawing = draw(net, X, T, grads=True)         # after forward and backward on the batch (X, T)
    drawing.save("net.svg")                       # .svg, .png or .pdf (by the suffix), or .gv for the DOT source
    drawing.svg()                                 # SVG text; a notebook shows ``drawing`` itself

As micrograd's ``draw_dot``: the network is written as Graphviz DOT (left to right, one column per layer or
level, a record per neuron) and laid out by Graphviz's ``dot`` program through the ``graphviz`` package. Where
either is missing, an SVG is still drawn without them (:func:`plain_svg`: the same columns, straight edges);
PNG and PDF need ``dot`` and say so in one line.

The values shown are those of the first sample of the batch: z (weighted input), a (activation) and δ = ∂c/∂z of
that sample's loss; edges carry w and, with ``grads=True``, ∂C/∂w of the batch cost (mean or sum, as the
network's reduction says).
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DeltapropError

MAX_SHOWN = 12  # neurons drawn per layer; a wider layer shows its first ones, "… n more", and its last one
MAX_GRAPH_NEURONS = 500  # a neuron graph is drawn neuron by neuron: larger ones are for the engine, not a picture
MAX_EDGE_LABELS = 40  # more edges than this are drawn without their numbers
FORMATS = ("svg", "png", "pdf", "gv")
NO_DOT = ("Graphviz's `dot` program or its Python package was not found (Debian/Ubuntu: apt-get install graphviz; "
          "pip install graphviz)")


@dataclass
class Node:
    id: str  # DOT name
    title: str  # the neuron's name, e.g. "x1", "3", "h2"
    lines: list[str]  # further label lines: activation, z, a, δ
    column: int
    kind: str = "neuron"  # neuron | input | output | more


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    weight: float = 0.0


@dataclass
class Drawing:
    """A drawn network: ``.dot`` (Graphviz source), ``.svg()``, ``.save(path)``; shown inline by Jupyter."""

    nodes: list[Node]
    edges: list[Edge]
    columns: list[str] = field(default_factory=list)  # a heading per column
    title: str = ""

    @property
    def dot(self) -> str:
        """The Graphviz DOT source."""
        return to_dot(self)

    def svg(self) -> str:
        """SVG text, laid out by Graphviz's ``dot`` where it is installed, else drawn without it."""
        try:
            return render(self, "svg").decode("utf-8")
        except DotMissing:
            return plain_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg(), "text/plain": repr(self)}

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write the drawing; the format is the suffix of ``path`` (svg, png, pdf, gv) unless given."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt == "dot":
            fmt = "gv"
        if fmt not in FORMATS:
            raise DeltapropError(f"cannot draw to {fmt!r}: choose from {', '.join(FORMATS)} (by the file's suffix)")
        if fmt == "gv":
            path.write_text(self.dot, encoding="utf-8")
        elif fmt == "svg":
            path.write_text(self.svg(), encoding="utf-8")
        else:
            try:
                data = render(self, fmt)
            except DotMissing:
                raise DeltapropError(f"{NO_DOT}: {fmt.upper()} needs it; an SVG is drawn without it: "
                                     f"{path.with_suffix('.svg').name}") from None
            path.write_bytes(data)
        return path

    def __repr__(self) -> str:
        n = sum(1 for v in self.nodes if v.kind != "more")
        return f"<Drawing {self.title or 'network'}: {n} neurons, {len(self.edges)} edges>"


class DotMissing(Exception):
    """Graphviz (the ``dot`` program or the ``graphviz`` package) is not installed."""


def dot_available() -> bool:
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def _num(v: float) -> str:
    return f"{v:.4g}"


# --- from a network to nodes and edges --------------------------------------------------------------------------


def draw(net, X=None, T=None, *, values: bool = True, grads: bool | None = None, sample: int = 0) -> Drawing:
    """A :class:`Drawing` of ``net`` (a :class:`~deltaprop.Network` or :class:`~deltaprop.GraphNetwork`).

    With a batch ``X`` (N, n_in) the neurons show z and a of sample ``sample`` (``values``); with ``T`` (N, n_out)
    also δ = ∂c/∂z, and the edges ∂C/∂w of the batch (``grads``, on by default when T is given).
    """
    if grads is None:
        grads = T is not None
    if grads and T is None:
        raise DeltapropError("draw: gradients need targets T as well as inputs X")
    if hasattr(net, "sizes") and hasattr(net, "W"):
        return _layered(net, X, T, values, grads, sample)
    if hasattr(net, "ids") and hasattr(net, "edges"):
        return _graph(net, X, T, values, grads, sample)
    raise DeltapropError(f"draw: expected a Network or GraphNetwork, got {type(net).__name__}")


def _shown(n: int) -> list[int | None]:
    """Indices of the neurons drawn in a layer of n; None stands for the ones left out."""
    if n <= MAX_SHOWN:
        return list(range(n))
    return [*range(MAX_SHOWN - 2), None, n - 1]


def _run(net, X, T, s: int):
    """(trace, gradients) of the batch to show on the drawing: (None, None) without X, no gradients without T."""
    trace = g = None
    if X is not None:
        trace = net.forward(X)
        if T is not None:
            g = net.backward(trace, T)
        _check_sample(s, trace.X.shape[0])
    return trace, g


def _layered(net, X, T, values: bool, grads: bool, s: int) -> Drawing:
    trace, g = _run(net, X, T, s)
    sizes = net.sizes
    nodes: list[Node] = []
    names: list[dict[int, str]] = []
    columns = [f"inputs ({sizes[0]})"]
    for l, n in enumerate(sizes):
        ids = {}
        out = l == len(sizes) - 1
        for j in _shown(n):
            if j is None:
                nodes.append(Node(f"L{l}_more", f"… {n - MAX_SHOWN + 1} more", [], l, "more"))
                continue
            name = f"L{l}_{j}"
            ids[j] = name
            if l == 0:
                lines = [f"x = {_num(trace.X[s, j])}"] if trace is not None and values else []
                nodes.append(Node(name, f"x{j + 1}", lines, 0, "input"))
                continue
            lines = []
            if trace is not None and values:
                lines += [f"z = {_num(trace.z[l - 1][s, j])}", f"a = {_num(trace.a[l - 1][s, j])}"]
            if g is not None:
                lines.append(f"δ = {_num(g.delta[l - 1][s, j])}")
            nodes.append(Node(name, f"{l}.{j + 1}", lines, l, "output" if out else "neuron"))
        names.append(ids)
        if l:
            columns.append(f"layer {l}: {n} {net.activations[l - 1].name}")
    edges = []
    n_edges = sum(len(a) * len(b) for a, b in zip(names, names[1:]))
    for l in range(1, len(sizes)):
        W = net.W[l - 1]
        for j, dst in names[l].items():
            for k, src in names[l - 1].items():
                w = float(W[j, k])
                label = ""
                if n_edges <= MAX_EDGE_LABELS:
                    label = f"w={_num(w)}" + (f"\n∂C/∂w={_num(g.W[l - 1][j, k])}" if grads and g is not None else "")
                edges.append(Edge(src, dst, label, w))
    title = "-".join(map(str, sizes)) + f" network, loss {net.loss.name}"
    return Drawing(nodes, edges, columns, title)


def _graph(net, X, T, values: bool, grads: bool, s: int) -> Drawing:
    if len(net.ids) > MAX_GRAPH_NEURONS:
        raise DeltapropError(f"draw: {len(net.ids)} neurons are too many to draw one by one "
                             f"(limit {MAX_GRAPH_NEURONS})")
    trace, g = _run(net, X, T, s)
    n_in = net.n_inputs
    outputs = set(net.outputs)
    level = np.asarray(net.level)
    nodes = []
    for p, i in enumerate(net.ids):
        name = f"n{p}"
        lines = []
        if p < n_in:
            if trace is not None and values:
                lines.append(f"x = {_num(trace.A[p, s])}")
            nodes.append(Node(name, i, lines, 0, "input"))
            continue
        lines.append(net.activations[p - n_in].name + f", b = {_num(net.b[p - n_in])}")
        if trace is not None and values:
            lines += [f"z = {_num(trace.Z[p, s])}", f"a = {_num(trace.A[p, s])}"]
        if g is not None:
            lines.append(f"δ = {_num(g.delta[p, s])}")
        nodes.append(Node(name, i, lines, int(level[p]), "output" if i in outputs else "neuron"))
    edges = []
    label_them = len(net.w) <= MAX_EDGE_LABELS
    for e, (i, j) in enumerate(zip(net.src.tolist(), net.dst.tolist())):
        w = float(net.w[e])
        label = ""
        if label_them:
            label = f"w={_num(w)}" + (f"\n∂C/∂w={_num(g.w[e])}" if grads and g is not None else "")
        edges.append(Edge(f"n{i}", f"n{j}", label, w))
    n_cols = int(level.max()) + 1
    columns = ["inputs"] + [f"level {c}" for c in range(1, n_cols)]
    title = f"neuron graph, {len(net.ids)} neurons, loss {net.loss.name}"
    return Drawing(nodes, edges, columns, title)


def _check_sample(s: int, n: int) -> None:
    if not 0 <= s < n:
        raise DeltapropError(f"draw: sample {s} is not in the batch of {n}")


# --- Graphviz ---------------------------------------------------------------------------------------------------

_FILL = {"input": "#e8f0fe", "neuron": "#ffffff", "output": "#fde8e8", "more": "#f4f4f4"}


def _record(text: str) -> str:
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def to_dot(d: Drawing) -> str:
    """DOT source: left to right, one rank per column, a record (name | values) per neuron."""
    out = ["digraph network {", '  graph [rankdir=LR, nodesep=0.25, ranksep=1.1, fontname="Helvetica", '
           f'label="{_record(d.title)}", labelloc=t];',
           '  node [shape=Mrecord, fontname="Helvetica", fontsize=11, style=filled];',
           '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6];']
    for c in sorted({v.column for v in d.nodes}):
        out.append(f"  subgraph cluster_{c} {{ style=invis; "
                   f"label=\"{_record(d.columns[c] if c < len(d.columns) else '')}\"; rank=same;")
        for v in d.nodes:
            if v.column != c:
                continue
            if v.kind == "more":
                out.append(f'    {v.id} [shape=plaintext, style="", label="{_record(v.title)}"];')
                continue
            parts = [_record(v.title)] + [_record(s) for s in v.lines]
            label = " | ".join(parts)  # rankdir=LR: a record's top-level fields stack top to bottom
            out.append(f'    {v.id} [label="{label}", fillcolor="{_FILL[v.kind]}"];')
        out.append("  }")
    for e in d.edges:
        colour = "#1f77b4" if e.weight >= 0 else "#d62728"
        label = f', label="{_record(e.label).replace(chr(10), chr(92) + "n")}"' if e.label else ""
        out.append(f'  {e.src} -> {e.dst} [color="{colour}"{label}];')
    out.append("}")
    return "\n".join(out) + "\n"


def render(d: Drawing, fmt: str) -> bytes:
    """The drawing laid out by Graphviz in ``fmt`` (svg, png, pdf); :class:`DotMissing` without Graphviz."""
    try:
        import graphviz
    except ImportError:
        raise DotMissing("the graphviz package is not installed") from None
    try:
        return graphviz.Source(d.dot).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise DotMissing(NO_DOT) from None


# --- without Graphviz -------------------------------------------------------------------------------------------


def plain_svg(d: Drawing) -> str:
    """An SVG drawn here, without Graphviz: the columns side by side, neurons top to bottom, straight edges."""
    line_h, pad, box_w, col_gap, row_gap = 14, 6, 130, 110, 18
    heights = {v.id: pad * 2 + line_h * (1 + len(v.lines)) for v in d.nodes}
    cols: dict[int, list[Node]] = {}
    for v in d.nodes:
        cols.setdefault(v.column, []).append(v)
    col_h = {c: sum(heights[v.id] for v in vs) + row_gap * (len(vs) - 1) for c, vs in cols.items()}
    top, H = 50, max(col_h.values())
    pos = {}
    for c, vs in cols.items():
        y = top + (H - col_h[c]) / 2
        x = 20 + c * (box_w + col_gap)
        for v in vs:
            pos[v.id] = (x, y, heights[v.id])
            y += heights[v.id] + row_gap
    width = 40 + (max(cols) + 1) * box_w + max(cols) * col_gap
    height = top + H + 20
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{esc(d.title)}</text>']
    for c in cols:
        x = 20 + c * (box_w + col_gap) + box_w / 2
        label = d.columns[c] if c < len(d.columns) else ""
        out.append(f'<text x="{x}" y="38" text-anchor="middle" fill="#555">{esc(label)}</text>')
    into: dict[str, int] = {}
    labels = []  # drawn last, over the boxes
    for e in d.edges:
        k_in = into[e.dst] = into.get(e.dst, -1) + 1  # labels of edges into one neuron at staggered places
        x0, y0, h0 = pos[e.src]
        x1, y1, h1 = pos[e.dst]
        colour = "#1f77b4" if e.weight >= 0 else "#d62728"
        ax, ay, bx, by = x0 + box_w, y0 + h0 / 2, x1, y1 + h1 / 2
        out.append(f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="{colour}" stroke-width="1"/>')
        if e.label:
            for k, text in enumerate(e.label.split("\n")):
                f = (0.3, 0.55, 0.8)[k_in % 3]
                tx, ty = ax + (bx - ax) * f, ay + (by - ay) * f + k * 11
                labels.append(f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="9" text-anchor="middle" fill="{colour}" '
                           f'stroke="white" stroke-width="3" paint-order="stroke">{esc(text)}</text>')
    for v in d.nodes:
        x, y, h = pos[v.id]
        if v.kind == "more":
            out.append(f'<text x="{x + box_w / 2}" y="{y + h / 2 + 4}" text-anchor="middle">{esc(v.title)}</text>')
            continue
        out.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{h}" rx="8" fill="{_FILL[v.kind]}" '
                   'stroke="black"/>')
        out.append(f'<text x="{x + box_w / 2}" y="{y + pad + 11}" text-anchor="middle" '
                   f'font-weight="bold">{esc(v.title)}</text>')
        for k, text in enumerate(v.lines, 1):
            out.append(f'<text x="{x + box_w / 2}" y="{y + pad + 11 + k * line_h}" '
                       f'text-anchor="middle">{esc(text)}</text>')
    out += labels
    out.append("</svg>")
    return "\n".join(out) + "\n"
