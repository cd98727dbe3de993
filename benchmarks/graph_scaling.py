"""Graph-engine scaling: forward + backward on random DAGs with skip connections, and against the layered engine.

    python benchmarks/graph_scaling.py [--neurons 10000] [--edges 250000 500000 1000000] [--batch 64] [--json]

Checks (issue 3 of the performance work):
- time grows linearly with the edges: doubling the edges costs ≤ 2.3× the time;
- a dense layered network run through the graph engine costs ≤ 3× the layered engine on the same batch.
Times are the best of ``--repeat`` runs (the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deltaprop.engine.graph import GraphNetwork  # noqa: E402
from deltaprop.engine.layered import Network  # noqa: E402


def random_dag(n: int, n_edges: int, levels: int = 10, seed: int = 0, activation="tanh") -> GraphNetwork:
    """n neurons in ``levels`` levels of equal size (the first are the inputs); every neuron gets one edge from
    the level before, the rest go from any earlier level (skip connections), uniformly, without repeats."""
    rng = np.random.default_rng(seed)
    size = n // levels
    level_of = np.minimum(np.arange(n) // size, levels - 1)
    start = np.searchsorted(level_of, np.arange(levels))
    n_in = int(start[1])
    dst0 = np.arange(n_in, n)
    lv = level_of[dst0]
    src0 = start[lv - 1] + rng.integers(0, size, dst0.size)  # one parent in the level just before
    required = np.unique(src0 * n + dst0)
    keys = required
    while keys.size < n_edges:
        m = int((n_edges - keys.size) * 1.2) + 16
        dst = rng.integers(n_in, n, m)
        src = (rng.random(m) * start[level_of[dst]]).astype(np.int64)  # any neuron of an earlier level
        keys = np.unique(np.concatenate([keys, src * n + dst]))
    extra = np.setdiff1d(keys, required)
    keys = np.concatenate([required, extra[rng.choice(extra.size, n_edges - required.size, replace=False)]])
    src, dst = keys // n, keys % n
    ids = [str(k) for k in range(n)]
    w = rng.normal(0, 1 / np.sqrt(n_edges / (n - n_in)), src.size)
    outputs = ids[int(start[-1]):]
    return GraphNetwork(ids[:n_in], ids[n_in:], src, dst, w, np.zeros(n - n_in), activation, outputs,
                        "quadratic")


def layered_as_graph(net: Network) -> GraphNetwork:
    """The same network, neuron by neuron: edge k → j of layer l carries W[l][j, k]."""
    offsets = np.cumsum([0, *net.sizes])
    src, dst, w = [], [], []
    for l, W in enumerate(net.W):
        j, k = np.meshgrid(np.arange(W.shape[0]), np.arange(W.shape[1]), indexing="ij")
        src.append(offsets[l] + k.ravel())
        dst.append(offsets[l + 1] + j.ravel())
        w.append(W.ravel())
    ids = [str(k) for k in range(offsets[-1])]
    acts = [g for l, g in enumerate(net.activations) for _ in range(net.sizes[l + 1])]
    return GraphNetwork(ids[:net.sizes[0]], ids[net.sizes[0]:], np.concatenate(src), np.concatenate(dst),
                        np.concatenate(w), np.concatenate(net.b), acts, loss=net.loss)


def best_time(fn, repeat: int) -> float:
    fn()  # warm up: first-touch allocations, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=10_000)
    p.add_argument("--edges", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--layered", type=int, nargs="+", default=[512, 1024, 1024, 1024, 10],
                   help="sizes of the dense network run through both engines")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rng = np.random.default_rng(1)
    rows = []
    for E in args.edges:
        net = random_dag(args.neurons, E)
        X = rng.standard_normal((args.batch, net.n_inputs))
        T = rng.standard_normal((args.batch, len(net.outputs)))
        t = best_time(lambda: net.loss_and_grads(X, T), args.repeat)
        rows.append({"edges": int(net.w.size), "neurons": len(net.ids), "levels": len(net.levels), "seconds": t})
    ratios = [b["seconds"] / a["seconds"] for a, b in zip(rows, rows[1:])]
    edge_ratios = [b["edges"] / a["edges"] for a, b in zip(rows, rows[1:])]
    dense = Network(args.layered, "tanh", "quadratic", seed=0)
    g = layered_as_graph(dense)
    X = rng.standard_normal((args.batch, args.layered[0]))
    T = rng.standard_normal((args.batch, args.layered[-1]))
    t_layered = best_time(lambda: dense.loss_and_grads(X, T), args.repeat)
    t_graph = best_time(lambda: g.loss_and_grads(X, T), args.repeat)
    result = {"batch": args.batch, "scaling": rows, "doubling_ratios": ratios, "edge_ratios": edge_ratios,
              "linear_ok": all(r <= 2.3 for r in ratios),
              "layered": {"sizes": args.layered, "weights": int(g.w.size), "layered_seconds": t_layered,
                          "graph_seconds": t_graph, "ratio": t_graph / t_layered, "ok": t_graph / t_layered <= 3}}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"graph engine, forward + backward, batch {args.batch} (best of {args.repeat})")
    print(f"{'neurons':>8} {'edges':>10} {'levels':>7} {'ms':>9} {'ms / 100k edges':>16}")
    for r in rows:
        print(f"{r['neurons']:>8} {r['edges']:>10} {r['levels']:>7} {1e3 * r['seconds']:>9.2f} "
              f"{1e8 * r['seconds'] / r['edges']:>16.3f}")
    for r, e in zip(ratios, edge_ratios):
        print(f"edges ×{e:.2f} → time ×{r:.2f}  ({'ok' if r <= 2.3 else 'FAIL'}: ≤ 2.3)")
    L = result["layered"]
    print(f"dense {L['sizes']} ({L['weights']} weights): layered {1e3 * t_layered:.2f} ms, graph "
          f"{1e3 * t_graph:.2f} ms, ratio {L['ratio']:.2f} ({'ok' if L['ok'] else 'FAIL'}: ≤ 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
