"""The graph engine: backpropagation over any acyclic graph of single neurons (seed 004's level).

Notation (the exam's, with a for the activity): w_ij is the weight *from* neuron i *into* neuron j,

    z_j = Σ_i w_ij a_i + b_j,      a_j = σ_j(z_j)                      forward, in topological order
    δ_j = ∂c/∂z_j = σ′_j(z_j) (∂c/∂a_j [j an output] + Σ_k w_jk δ_k)      backward, in reverse order
    ∂C/∂w_ij = s Σ_n a_i δ_j,   ∂C/∂b_j = s Σ_n δ_j,   s = 1/N ("mean") or 1 ("sum")

Vectorised for graphs of many neurons: neurons are grouped into *levels* (the longest path from an input),
so that every neuron of a level depends only on earlier levels. Per level the forward pass is one sparse
(CSR) or dense matrix product of the level's incoming weights with the activities of the earlier neurons,
and the backward pass is its transpose; Python loops over levels, never over neurons or edges.

Parameters are two flat arrays — ``w`` (E,) over edges and ``b`` (M,) over the non-input neurons — and every
level's matrix *is a view* of a slice of ``w`` (edges are stored sorted by target, then source: exactly
CSR order), so changing ``w`` in place (an optimizer, the gradient check) changes the network.
State is stored neuron-major: Z, A, δ are (n_neurons, N), a row per neuron, a column per sample.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import activations as act_mod
from . import losses as loss_mod
from .activations import Activation
from ..errors import DeltapropError, DeltapropTypeError
from .. import checks

Array = np.ndarray
GATHER_ELEMENTS = 1 << 16  # the weight gradient gathers a_i, δ_j per edge in chunks this size: 2 × 512 KiB stay in cache (3× faster than 32 MiB chunks)


@dataclass
class Level:
    """Neurons [start, stop) (positions), their incoming edges [e0, e1), sources within [lo, hi)."""

    start: int
    stop: int
    e0: int
    e1: int
    lo: int
    hi: int
    groups: list  # [(Activation, start, stop)]: contiguous runs of one activation
    dense: bool  # every source in [lo, hi) feeds every neuron: a dense block, (stop-start, hi-lo)
    matrix: object  # sparse levels: a scipy.sparse.csr_matrix (stop-start, hi-lo), its data a view of w[e0:e1]; else None
    rows: Array | None  # sparse levels: the target row of every edge, for the weight gradient


@dataclass
class GraphTrace:
    """The forward pass: Z and A (n_neurons, N) by position; input rows hold x in both."""

    X: Array
    Z: Array
    A: Array


@dataclass
class GraphGrads:
    """δ (n_neurons, N) per sample (input rows: ∂c/∂x), ∂C/∂w (E,), ∂C/∂b (M,), σ′(z), ∂C/∂X, the cost C."""

    delta: Array
    w: Array
    b: Array
    sigma_prime: Array
    X: Array
    cost: float

    def params(self) -> list[Array]:
        return [self.w, self.b]


class GraphNetwork:
    """A network of neurons connected by any acyclic set of weighted edges.

    ``inputs``: the input ids (columns of X, in order). ``src``/``dst``/``w``: one entry per edge i → j.
    ``bias``/``activations``: per non-input neuron id. ``outputs``: ids whose activities are compared with T's
    columns, in order (default: the neurons that feed no other, in the order given).
    """

    def __init__(self, inputs: list[str], neurons: list[str], src: list[str] | Array, dst: list[str] | Array,
                 w, bias=None, activations=None, outputs: list[str] | None = None, loss="quadratic", *,
                 loss_params: dict | None = None, reduction: str = "mean", dtype="float64",
                 source: str = "<network>"):
        self.source = source
        for arg, value in (("inputs", inputs), ("neurons", neurons)):
            if not isinstance(value, (list, tuple)) or not all(isinstance(i, str) for i in value):
                raise DeltapropTypeError(f"{source}: {arg} must be a list of neuron ids (strings), got "
                                         f"{type(value).__name__}")
        ids = [*inputs, *neurons]
        if len(set(ids)) != len(ids):
            twice = [i for i, count in Counter(ids).items() if count > 1]
            raise DeltapropError(f"{source}: neuron(s) given twice: {', '.join(map(repr, twice))}")
        index = {i: k for k, i in enumerate(ids)}
        n_in, n = len(inputs), len(ids)
        if n_in == 0 or n == n_in:
            raise DeltapropError(f"{source}: a network needs at least one input and one other neuron")
        src_k = _positions(src, index, source, "from")
        dst_k = _positions(dst, index, source, "into")
        if src_k.shape != dst_k.shape:
            raise DeltapropError(f"{source}: {src_k.size} neurons weights come from but {dst_k.size} they go into; "
                                 "src and dst name the two ends of each weight")
        if np.any(dst_k < n_in):
            bad = ids[int(dst_k[dst_k < n_in][0])]
            raise DeltapropError(f"{source}: weights into input {bad!r}: an input neuron has no weights or bias")
        fed = np.zeros(n, bool)
        fed[dst_k] = True
        if not fed[n_in:].all():
            lonely = ids[n_in + int(np.argmin(fed[n_in:]))]
            raise DeltapropError(f"{source}: neuron {lonely!r} has no incoming weights")
        level = _levels(src_k, dst_k, n, n_in, ids, source)

        # activations: one Activation per non-input neuron
        acts = activations if activations is not None else "sigmoid"
        if not isinstance(acts, (str, Activation, list, tuple)):
            raise DeltapropTypeError(f"{source}: activations must be a name, an Activation or one per neuron, not "
                                     f"{type(acts).__name__}")
        acts = [acts] * (n - n_in) if isinstance(acts, (str, Activation)) else list(acts)
        if len(acts) != n - n_in:
            raise DeltapropError(f"{source}: {len(acts)} activations for {n - n_in} neurons")
        cache: dict = {}
        act_objs = []
        for name, spec in zip(neurons, acts):
            key = spec if isinstance(spec, str) else id(spec)
            if key not in cache:
                try:
                    cache[key] = act_mod.get(spec)
                except DeltapropError as e:
                    raise DeltapropError(f"{source}: neuron {name!r}: {e}") from None
            g = cache[key]
            if not g.elementwise and g.name != "softmax":
                raise DeltapropError(f"{source}: neuron {name!r}: {g.name} couples several neurons; "
                                     "a neuron graph needs an element-wise activation or softmax on its outputs")
            act_objs.append(g)
        group_key = {g.name: k for k, g in enumerate(dict.fromkeys(act_objs))}

        # positions: inputs first, then by level, then by activation (contiguous runs), then file order
        order = sorted(range(n_in, n), key=lambda k: (level[k], group_key[act_objs[k - n_in].name], k))
        perm = np.array([*range(n_in), *order])  # new position -> old index
        pos = np.empty(n, np.int64)
        pos[perm] = np.arange(n)
        self.ids: list[str] = [ids[k] for k in perm]
        self.index = {i: k for k, i in enumerate(self.ids)}
        self.n_inputs = n_in
        self.activations: list[Activation] = [act_objs[k - n_in] for k in order]  # by position − n_in
        self.level = level[perm]

        # edges sorted by (target, source): CSR order of each level's matrix
        s_pos, d_pos = pos[src_k], pos[dst_k]
        e_order = np.lexsort((s_pos, d_pos))
        self.src, self.dst = s_pos[e_order], d_pos[e_order]
        if np.any((self.src[1:] == self.src[:-1]) & (self.dst[1:] == self.dst[:-1])):
            k = int(np.argmax((self.src[1:] == self.src[:-1]) & (self.dst[1:] == self.dst[:-1])))
            raise DeltapropError(f"{source}: weight {self.ids[self.src[k]]} → {self.ids[self.dst[k]]} given twice")
        self.dtype = checks.as_dtype(dtype)
        self.w = _flat(w, len(src_k), f"{source}: weights")[e_order].astype(self.dtype)
        b = np.zeros(n - n_in) if bias is None else _flat(bias, n - n_in, f"{source}: biases")
        self.b = b[np.array(order) - n_in].astype(self.dtype)

        outputs = list(outputs) if outputs is not None else [
            i for i in neurons if not np.any(src_k == index[i])]
        unknown = [o for o in outputs if o not in self.index]
        if unknown:
            raise DeltapropError(f"{source}: unknown output neuron(s) {unknown}")
        if len(set(outputs)) != len(outputs):
            raise DeltapropError(f"{source}: an output neuron is listed twice in outputs")
        if any(self.index[o] < n_in for o in outputs):
            raise DeltapropError(f"{source}: an input cannot be an output")
        self.outputs = outputs
        self.out_pos = np.array([self.index[o] for o in outputs])
        # softmax: one vector-valued activation shared by every output that has it; those outputs feed nothing
        # (their activity is the group's, known only once every member's z is)
        self.softmax_pos = np.array([p for p in self.out_pos if not self.activations[p - n_in].elementwise],
                                    dtype=np.int64)
        for p in range(n_in, n):
            if not self.activations[p - n_in].elementwise and p not in self.softmax_pos:
                raise DeltapropError(f"{source}: neuron {self.ids[p]!r}: softmax couples several neurons, so it is "
                                     "for output neurons only (the outputs with it share one softmax); use an "
                                     "element-wise activation here")
        if len(self.softmax_pos) == 1:
            raise DeltapropError(f"{source}: neuron {self.ids[self.softmax_pos[0]]!r}: softmax couples several "
                                 "neurons, and this is the only output with it (a softmax of one is always 1); "
                                 "give it to two outputs or more")
        feeding = set(self.src.tolist())
        for p in self.softmax_pos.tolist():
            if p in feeding:
                raise DeltapropError(f"{source}: softmax output {self.ids[p]!r} feeds another neuron; softmax "
                                     "couples several neurons (each output's activity depends on every output of "
                                     "its group), so a softmax output may feed none")
        self.loss = loss_mod.get(loss, **(loss_params or {}))
        self.reduction = checks.reduction(reduction, source)
        self._build_levels()

    # ---- structure ----
    def _build_levels(self) -> None:
        n_in, n = self.n_inputs, len(self.ids)
        bounds = np.flatnonzero(np.diff(self.level[n_in:])) + n_in + 1
        starts = [n_in, *bounds.tolist()]
        stops = [*bounds.tolist(), n]
        self.levels: list[Level] = []
        for start, stop in zip(starts, stops):
            e0, e1 = (int(v) for v in np.searchsorted(self.dst, [start, stop]))
            src = self.src[e0:e1]
            lo, hi = int(src.min()), int(src.max()) + 1
            groups, k = [], start
            while k < stop:  # runs of one activation (contiguous by construction)
                g, j = self.activations[k - n_in], k
                while j < stop and self.activations[j - n_in] is g:
                    j += 1
                groups.append((g, k, j))
                k = j
            dense = e1 - e0 == (stop - start) * (hi - lo)
            matrix = rows = None
            if not dense:
                import scipy.sparse as sps  # only sparse levels need it (imported here: `import deltaprop` stays light)

                counts = np.bincount(self.dst[e0:e1] - start, minlength=stop - start)
                indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
                indices = (src - lo).astype(np.int32)
                matrix = sps.csr_matrix((self.w[e0:e1], indices, indptr), shape=(stop - start, hi - lo), copy=False)
                rows = np.repeat(np.arange(stop - start, dtype=np.int32), counts)
            self.levels.append(Level(start, stop, e0, e1, lo, hi, groups, dense, matrix, rows))

    def _weights(self, lv: Level):
        """The level's incoming weights as a matrix that *is* a view of w[e0:e1] (rows: targets)."""
        if lv.dense:
            return self.w[lv.e0:lv.e1].reshape(lv.stop - lv.start, lv.hi - lv.lo)
        lv.matrix.data = self.w[lv.e0:lv.e1]  # re-point: w may have been replaced (astype) since
        return lv.matrix

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(i, j) for every entry of ``w``, in order."""
        return [(self.ids[i], self.ids[j]) for i, j in zip(self.src.tolist(), self.dst.tolist())]

    @property
    def neurons(self) -> list[str]:
        """The non-input ids, in the order of ``b``."""
        return self.ids[self.n_inputs:]

    def params(self) -> list[Array]:
        """[w, b]: the arrays themselves (optimizers and the gradient check change them in place)."""
        return [self.w, self.b]

    def param_names(self) -> list[str]:
        return ["w", "b"]

    @property
    def analytic(self) -> bool:
        return self.loss.analytic and all(g.analytic for g in self.activations)

    @property
    def fused(self):
        """c(z, t) when every output has one activation that is canonical for the loss (then δᴸ = a − t)."""
        names = {self.activations[p - self.n_inputs].name for p in self.out_pos}
        return loss_mod.fused(names.pop(), self.loss) if len(names) == 1 else None

    def astype(self, dtype) -> GraphNetwork:
        dtype = checks.engine_dtype(dtype)
        net = object.__new__(GraphNetwork)
        net.__dict__.update(self.__dict__)
        net.dtype = np.dtype(dtype)
        net.w, net.b = self.w.astype(dtype), self.b.astype(dtype)
        net.levels = [Level(**{**lv.__dict__, "matrix": lv.matrix.copy() if lv.matrix is not None else None})
                      for lv in self.levels]
        return net

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def _input(self, X) -> Array:
        X = checks.batch(X, self.n_inputs, "X", names=self.ids[:self.n_inputs])
        return X if np.iscomplexobj(X) else X.astype(self.dtype, copy=False)

    def targets(self, T, N: int) -> Array:
        """T as (N, n_outputs), float64 (or complex for the complex-step check), by the engines' shared rule."""
        T = checks.batch(T, self.n_outputs, "T", n_rows=N, names=self.outputs)
        return T if np.iscomplexobj(T) else T.astype(float)

    _target = targets  # the name explain/symbolic.py still calls

    # ---- forward ----
    def forward(self, X) -> GraphTrace:
        """z_j = Σ_i w_ij a_i + b_j and a_j = σ_j(z_j), level by level, for the batch X (N, n_inputs)."""
        X = self._input(X)
        dt = np.result_type(X, self.w)
        N, n, n_in = X.shape[0], len(self.ids), self.n_inputs
        Z = np.empty((n, N), dt)
        A = np.empty((n, N), dt)
        A[:n_in] = X.T
        Z[:n_in] = X.T
        for lv in self.levels:
            z = Z[lv.start:lv.stop]
            z[...] = self._weights(lv) @ A[lv.lo:lv.hi]  # (n_level, n_src) @ (n_src, N)
            z += self.b[lv.start - n_in:lv.stop - n_in, None]
            for g, k0, k1 in lv.groups:
                if g.elementwise:
                    g.f(Z[k0:k1], out=A[k0:k1])
        if len(self.softmax_pos):  # a_k = e^{z_k} / Σ_m e^{z_m} over the softmax outputs, once all their z are in
            sm = self.activations[self.softmax_pos[0] - n_in]
            A[self.softmax_pos] = sm.f(Z[self.softmax_pos].T).T
        return GraphTrace(X, Z, A)

    def predict(self, X) -> Array:
        """The outputs' activities, (N, n_outputs)."""
        return self.forward(X).A[self.out_pos].T

    def cost_per_sample(self, trace: GraphTrace, T) -> Array:
        T = self.targets(T, trace.X.shape[0])
        fused = self.fused
        return fused(trace.Z[self.out_pos].T, T) if fused else self.loss.value(trace.A[self.out_pos].T, T)

    def cost(self, X, T) -> float:
        c = self.cost_per_sample(self.forward(X), T)
        return c.mean() if self.reduction == "mean" else c.sum()

    # ---- backward ----
    def backward(self, trace: GraphTrace, T) -> GraphGrads:
        """δ_j = σ′_j(z_j) (∂c/∂a_j + Σ_k w_jk δ_k) from the last level to the first, then ∂C/∂w and ∂C/∂b."""
        Z, A = trace.Z, trace.A
        N, n_in = trace.X.shape[0], self.n_inputs
        T = self.targets(T, N)
        s = 1.0 / N if self.reduction == "mean" else 1.0
        a_out = A[self.out_pos].T
        if self.loss.check is not None:
            self.loss.check(a_out, T)
        delta = np.zeros_like(A)  # first ∂c/∂a_j, accumulated from the children; then δ_j in place
        sigma_prime = np.ones_like(A)
        fused = self.fused
        if not fused:
            np.add.at(delta, self.out_pos, self.loss.grad(a_out, T).T)  # ∂c/∂a of the outputs
        soft = self.softmax_pos
        if len(soft) and not fused:  # the softmax Jacobian: δ_k = a_k (g_k − Σ_m a_m g_m), g = ∂c/∂a (they feed none)
            delta[soft] = act_mod.softmax_delta(A[soft].T, delta[soft].T).T
        gw = np.empty_like(self.w, dtype=delta.dtype)
        gb = np.empty_like(self.b, dtype=delta.dtype)
        for lv in reversed(self.levels):
            d = delta[lv.start:lv.stop]  # holds ∂c/∂a_j = Σ_k w_jk δ_k (+ ∂c/∂a_j of an output)
            for g, k0, k1 in lv.groups:
                g.df(Z[k0:k1], A[k0:k1], out=sigma_prime[k0:k1])
                if g.elementwise:  # softmax rows already hold δ (their Jacobian, above); σ′ there is its diagonal
                    delta[k0:k1] *= sigma_prime[k0:k1]  # δ_j = σ′(z_j) ∂c/∂a_j
            if fused:  # canonical output/loss pair: δ = a − t, added where the outputs lie in this level
                here = (self.out_pos >= lv.start) & (self.out_pos < lv.stop)
                for col in np.flatnonzero(here):
                    p = self.out_pos[col]
                    delta[p] += A[p] - T[:, col]
                    if len(soft):  # softmax + cross-entropy is a Σ_k t_k − t: a − t when each row of t sums to 1
                        delta[p] += A[p] * (T.sum(axis=1) - 1)
            W = self._weights(lv)
            a_src = A[lv.lo:lv.hi]
            if lv.dense:
                np.matmul(d, a_src.T, out=gw[lv.e0:lv.e1].reshape(W.shape))  # Σ_n δ_j a_i
            else:
                _edge_products(d, a_src, lv.rows, lv.matrix.indices, gw[lv.e0:lv.e1])
            gb[lv.start - n_in:lv.stop - n_in] = d.sum(axis=1)
            delta[lv.lo:lv.hi] += W.T @ d  # each source i receives Σ_k w_ik δ_k
        gw *= s
        gb *= s
        c = fused(Z[self.out_pos].T, T) if fused else self.loss.value(a_out, T)
        cost = c.mean() if self.reduction == "mean" else c.sum()
        return GraphGrads(delta, gw, gb, sigma_prime, delta[:n_in].T * s, cost)

    def loss_and_grads(self, X, T) -> GraphGrads:
        return self.backward(self.forward(X), T)

    def __repr__(self) -> str:
        return (f"GraphNetwork({len(self.ids)} neurons, {len(self.w)} weights, {len(self.levels)} levels, "
                f"loss={self.loss.name!r})")


def _edge_products(d: Array, a_src: Array, rows: Array, cols: Array, out: Array) -> None:
    """out[e] = Σ_n d[rows[e], n] a_src[cols[e], n]: the weight gradient of sparse edges, in chunks."""
    step = max(1, GATHER_ELEMENTS // max(1, d.shape[1]))
    for e in range(0, len(rows), step):
        r, c = rows[e:e + step], cols[e:e + step]
        np.einsum("en,en->e", d[r], a_src[c], out=out[e:e + step])


def _positions(ids, index: dict, source: str, what: str) -> Array:
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu":  # positions already (the benchmark's graphs)
        if ids.size and (ids.min() < 0 or ids.max() >= len(index)):
            raise DeltapropError(f"{source}: weight {what} a neuron position outside 0 … {len(index) - 1}")
        return ids.astype(np.int64)
    if not isinstance(ids, (list, tuple, np.ndarray)) or not all(isinstance(i, str) for i in ids):
        raise DeltapropTypeError(f"{source}: the neurons weights come {what} must be a list of neuron ids "
                                 f"(strings) or an integer array of positions, got {type(ids).__name__}")
    try:
        return np.array([index[i] for i in ids], dtype=np.int64)
    except KeyError as e:
        raise DeltapropError(f"{source}: weight {what} unknown neuron {e.args[0]!r}") from None


def _flat(values, n: int, what: str) -> Array:
    """n finite numbers, in any shape that holds n (the shared rule of checks.finite_array), flattened."""
    arr = checks.finite_array(values, None, what).reshape(-1)
    if arr.shape != (n,):
        raise DeltapropError(f"{what}: expected {n} numbers, got {arr.size}")
    return arr


def _levels(src: Array, dst: Array, n: int, n_in: int, ids: list[str], source: str) -> Array:
    """Longest-path level of every neuron (inputs 0), by Kahn's algorithm run a whole frontier at a time."""
    indeg = np.bincount(dst, minlength=n)
    out_order = np.argsort(src, kind="stable")
    out_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    level = np.full(n, -1, np.int64)
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        starts, stops = out_ptr[frontier], out_ptr[frontier + 1]
        counts = stops - starts
        # the out-edges of the whole frontier, without a loop: ranges [start, stop) concatenated
        e = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        targets = dst[out_order[e]]
        indeg -= np.bincount(targets, minlength=n)
        frontier = np.unique(targets[indeg[targets] == 0])
        depth += 1
    if np.any(level < 0):
        cycle = _find_cycle(src, dst, level < 0)
        raise DeltapropError(f"{source}: the weights form a cycle: {' → '.join(ids[k] for k in cycle)}; "
                             "a feed-forward network must be acyclic")
    return level


def _find_cycle(src: Array, dst: Array, stuck: Array) -> list[int]:
    """One cycle among the neurons Kahn's algorithm could not order: each has a stuck parent, so walking
    from parent to parent must come back to a neuron already seen."""
    parent: dict[int, int] = {}
    for i, j in zip(src.tolist(), dst.tolist()):
        if stuck[i] and stuck[j]:
            parent.setdefault(j, i)
    node = int(np.flatnonzero(stuck)[0])
    path, seen = [], {}
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = parent[node]
    cycle = path[seen[node]:][::-1]  # walked backwards; print it in the direction of the weights
    return cycle + [cycle[0]]
