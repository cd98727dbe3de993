"""The one performance seam: scratch arrays, BLAS plans, the BLAS thread policy and the fused passes.

The engines write the derivation (z = a Wᵀ + b, δ = (δ W) ⊙ σ′(z), ∂C/∂W = s δᵀ a) and hand every product
that needs a kept buffer or a BLAS call to a :class:`Workspace`, one per batch shape, which owns them all.
Nothing here knows about layers or networks; everything here exists only for speed, and each function gives
the numbers its plain NumPy reading gives. What is here:

- :class:`Workspace` (a dict of kept scratch arrays, plus ``plans``, the kept GEMM calls): ``affine`` (z),
  ``weight_grad`` and ``bias_grad`` (∂C/∂W, ∂C/∂b), ``add_weight_grad`` (W ← W + δᵀ a_prev, one GEMM, β = 1);
- :func:`threads_for`, the BLAS thread policy of a training run;
- the fused passes of the canonical output/loss pairs and of softmax (:func:`softmax`,
  :func:`softmax_cross_entropy`, :func:`softmax_cross_entropy_delta`, :func:`sigmoid_bce`,
  :func:`identity_quadratic`), which take any dict (a Workspace) for their arrays;
- :data:`plan`, the GEMM itself, with its NumPy fallback and self-test.

GEMM, C ← α A B + β C with β = 1: the one BLAS product the training step needs that NumPy does not offer.

``np.matmul`` always overwrites its output, so plain SGD would have to write ∂C/∂W into a buffer and read it back
to add it to W. GEMM itself accumulates: with β = 1 the update W ← W − η ∂C/∂W = W + (−η s δ)ᵀ a_prev is one
call (:meth:`Workspace.add_weight_grad`). This module calls ``cblas_sgemm`` / ``cblas_dgemm`` in the very
OpenBLAS that NumPy loaded (found through NumPy's build configuration and threadpoolctl, called through
ctypes), so the products run in NumPy's own thread pool; a second BLAS, SciPy's, would bring a second pool whose
threads fight NumPy's for the cores.

Where that library cannot be found or fails its self-test (NumPy built against MKL or Accelerate, an unknown
symbol, a different integer width), :data:`plan` is None and the engine takes its plain NumPy path, which gives
the same numbers to rounding. ``DELTAPROP_NUMPY_ONLY=1`` in the environment forces that path.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import time

import numpy as np

Array = np.ndarray

_COL_MAJOR, _NO_TRANS, _TRANS = 102, 111, 112  # CBLAS's enum values


def _numpy_openblas():
    """(library, integer type, symbol prefix, symbol suffix) of the OpenBLAS NumPy was built with, or None."""
    try:
        cfg = np.__config__.CONFIG["Build Dependencies"]["blas"]
        from threadpoolctl import threadpool_info
    except (AttributeError, KeyError, ImportError):
        return None
    name, config = str(cfg.get("name", "")), str(cfg.get("openblas configuration", ""))
    if "openblas" not in name or not config.startswith("OpenBLAS"):
        return None
    ilp64 = "USE64BITINT" in config
    suffix, int_t = ("64_", ctypes.c_int64) if ilp64 else ("", ctypes.c_int32)
    prefixes = ("scipy_", "") if name.startswith("scipy") else ("",)
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))  # site-packages: numpy.libs, numpy/.dylibs
    loaded = [lib["filepath"] for lib in threadpool_info() if lib.get("internal_api") == "openblas"]
    # NumPy's own copy first (a wheel keeps it next to the package); SciPy's may export the same names
    loaded.sort(key=lambda path: not os.path.realpath(path).startswith(os.path.realpath(numpy_dir)))
    for path in loaded:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in prefixes:
            if hasattr(lib, f"{prefix}cblas_sgemm{suffix}") and hasattr(lib, f"{prefix}cblas_dgemm{suffix}"):
                return lib, int_t, prefix, suffix
    return None


def _bind():
    """The two gemm routines with their argument types, checked against np.matmul; None if unavailable."""
    if os.environ.get("DELTAPROP_NUMPY_ONLY", "") not in ("", "0"):
        return None
    found = _numpy_openblas()
    if found is None:
        return None
    lib, int_t, prefix, suffix = found
    routines = {}
    for dtype, letter, real_t in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
        fn = getattr(lib, f"{prefix}cblas_{letter}gemm{suffix}")
        # order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t, int_t, real_t, ctypes.c_void_p,
                       int_t, ctypes.c_void_p, int_t, real_t, ctypes.c_void_p, int_t]
        fn.restype = None
        routines[np.dtype(dtype)] = fn
    return routines


def _operand(M: Array) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) of a 2-D operand for a column-major GEMM, or None if it has no unit
    stride along one axis (then the BLAS cannot read it in place)."""
    item = M.itemsize
    rows, cols = M.shape
    s0, s1 = M.strides
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 // item >= max(rows, 1):
        return _NO_TRANS, max(s1 // item, rows, 1)  # column-major with leading dimension s1
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 // item >= max(cols, 1):
        return _TRANS, max(s0 // item, cols, 1)  # row-major: its transpose is column-major
    return None


def _plan(alpha: float, A: Array, B: Array, beta: float, C: Array):
    """A call of no arguments that does C ← α A B + β C in place, for float32 or float64 operands of one dtype,
    with every argument worked out now; None where the operands do not suit the BLAS (the caller then takes the
    NumPy path). Working the arguments out costs more than a small product (array pointers through ctypes), so
    a training loop makes the call once and keeps it with the arrays it was made for (they must stay alive and
    in place: the call holds references to them)."""
    fn = _ROUTINES.get(C.dtype) if _ROUTINES else None  # _ROUTINES is bound before _plan is ever handed out
    if fn is None or A.dtype != C.dtype or B.dtype != C.dtype or not C.flags.writeable:
        return None
    if A.ndim != 2 or B.ndim != 2 or C.ndim != 2:
        return None
    (m, k), (k2, n) = A.shape, B.shape
    if k != k2 or C.shape != (m, n) or min(m, n, k) == 0:
        return None
    if C.flags.f_contiguous:
        a, b, c = A, B, C
    elif C.flags.c_contiguous:  # Cᵀ = Bᵀ Aᵀ is column-major
        a, b, c, m, n = B.T, A.T, C.T, n, m
    else:
        return None
    if np.may_share_memory(c, a) or np.may_share_memory(c, b):
        return None
    op_a, op_b = _operand(a), _operand(b)
    if op_a is None or op_b is None:
        return None
    args = (_COL_MAJOR, op_a[0], op_b[0], m, n, k, alpha, a.ctypes.data, op_a[1], b.ctypes.data, op_b[1], beta,
            c.ctypes.data, max(c.shape[0], 1))
    keep = (A, B, C)  # the arrays behind the pointers stay alive as long as the call does

    def call(fn=fn, args=args, keep=keep):
        fn(*args)
    return call


def _self_test() -> bool:
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        A, B = rng.random((5, 3)).astype(dtype), rng.random((3, 4)).astype(dtype)
        for C0 in (rng.random((5, 4)).astype(dtype), np.asfortranarray(rng.random((5, 4)).astype(dtype))):
            for a, b in ((A, B), (np.asfortranarray(A), B.T.copy().T)):
                C = C0.copy(order="K")
                call = _plan(-0.5, a, b, 1.0, C)
                if call is None:
                    return False
                call()
                if not np.allclose(C, C0 - 0.5 * (A.astype(np.float64) @ B), rtol=1e-5, atol=1e-6):
                    return False
    return True


_ROUTINES = None  # bound on first use (see __getattr__): finding the library costs more than the rest of import


def __getattr__(name: str):
    """``plan`` is bound on first use: finding NumPy's OpenBLAS (its build configuration, threadpoolctl, loading
    the library, the self-test) costs ~30 ms, which ``import deltaprop`` and ``deltaprop --help`` need not pay."""
    if name != "plan":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global _ROUTINES, plan
    try:
        _ROUTINES = _bind()
    except Exception:  # noqa: BLE001 - whatever goes wrong, the NumPy path is always there
        _ROUTINES = None
    if _ROUTINES is not None and not _self_test():
        _ROUTINES = None
    #: ``plan(alpha, A, B, beta, C)``: a call of no arguments doing C ← αAB + βC in NumPy's OpenBLAS, made once
    #: and called again and again (see _plan); itself None where that BLAS is not available.
    plan = _plan if _ROUTINES is not None else None
    return plan


def gemm_plan():
    """:data:`plan`, bound on first use (a test or benchmark may replace the module attribute)."""
    g = globals()
    return g["plan"] if "plan" in g else __getattr__("plan")


# --- the workspace: every scratch array and BLAS plan of one batch shape ---------------------------------------


def scratch(work: dict, key, shape: tuple, dtype) -> Array:
    """A work array kept in ``work`` under ``key`` from call to call, so that a training loop allocates it once."""
    buf = work.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = work[key] = np.empty(shape, dtype)
    return buf


class Workspace(dict):
    """The scratch arrays (the dict's items, by key) and the GEMM plans of one batch shape, kept from step to step.

    A :class:`~deltaprop.engine.layered.Trace` holds one; the engine passes it to every call below and to the
    fused passes, and never sees a buffer or a BLAS call itself. The results equal the plain NumPy products."""

    def __init__(self):
        super().__init__()
        self.plans: dict = {}

    def scratch(self, key, shape: tuple, dtype) -> Array:
        return scratch(self, key, shape, dtype)

    def affine(self, a_prev: Array, W: Array, b: Array, out: Array, spare: Array) -> Array:
        """z = a_prev Wᵀ + b, (N, n_l), into ``out``; ``spare`` is an array of z's shape about to be overwritten.

        Wᵀ is a view (the BLAS reads W transposed). b is copied to every row of ``spare`` first: adding the (n,)
        b by broadcasting makes NumPy allocate an iteration buffer on every call, and is no faster. (A GEMM with
        β = 1 onto rows of b would save that pass, but costs more to call through ctypes than the pass does.)"""
        np.matmul(a_prev, W.T, out=out)
        np.copyto(spare, b)
        out += spare
        return out

    def weight_grad(self, key, delta: Array, a_prev: Array, out: Array, s: float = 1.0) -> Array:
        """∂C/∂W = s δᵀ a_prev, (n_l, n_{l-1}), into ``out``."""
        d = delta
        if s != 1.0 and d.size < out.size:  # scale the smaller factor: s δ (N, n_l) rather than ∂C/∂W
            d = np.multiply(d, s, out=self.scratch(("s_delta", key), d.shape, d.dtype))
        # written as its transpose a_prevᵀ (s δ) when ``out`` is in Fortran order (like W): OpenBLAS runs that
        # product faster at the shapes of a training step
        if out.flags.f_contiguous:
            np.matmul(a_prev.T, d, out=out.T)
        else:
            np.matmul(d.T, a_prev, out=out)
        if s != 1.0 and d is delta:
            out *= s
        return out

    def bias_grad(self, delta: Array, out: Array, s: float = 1.0) -> Array:
        """∂C/∂b = s Σ_n δ, (n_l,), into ``out``: the product of a row of N s's with δ, one BLAS call that sums
        and scales at once."""
        row = self.get("s_row")
        if row is None or row.shape != delta.shape[:1] or row.dtype != delta.dtype or row[0] != s:
            row = self["s_row"] = np.full(delta.shape[:1], s, delta.dtype)
        return np.matmul(row, delta, out=out)

    def add_weight_grad(self, key, delta: Array, a_prev: Array, W: Array) -> None:
        """W ← W + δᵀ a_prev (δ already carries its factor, −η s for plain SGD) as one GEMM with β = 1, so the
        step is never written out and read back; where that BLAS call is not available, through a kept array."""
        # the GEMM's call is made once for these very arrays and kept (working out its arguments costs more than
        # the smaller products); any new array, a new batch buffer or a replaced W, makes it anew
        kept = self.plans.get(key)
        if kept is None or kept[0] is not W or kept[1] is not delta or kept[2] is not a_prev:
            gemm = gemm_plan()
            call = gemm(1.0, delta.T, a_prev, 1.0, W) if gemm is not None else None
            kept = self.plans[key] = (W, delta, a_prev, call)
        if kept[3] is not None:
            kept[3]()
        else:
            W += self.weight_grad(key, delta, a_prev, self.scratch(("step", key), W.shape, W.dtype))


SMALL_MATMUL = 2**21  # multiply-adds below which one BLAS thread beats several (measured on digits)


LOAD_TAU = 60.0  # seconds: the time constant of the 1-minute load average
_own = {"wall": None, "cpu": 0.0, "load": 0.0}  # this process's part of it, as tracked by own_load


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system  # this process's threads, not its children


def own_load(now: float | None = None, cpu: float | None = None, state: dict = _own) -> float:
    """This process's own part of the 1-minute load average, so that a process that has been training (a
    benchmark, a grid search, a notebook) does not count itself as another process's load: the CPU seconds per
    second it used, averaged as the kernel averages the load (exponential decay with LOAD_TAU), updated at every
    call. The first call has only the CPU time used so far: it counts as one thread busy for that long, just
    now (1 − e^(−cpu/τ)), which can only overstate it. ``now`` and ``cpu`` stand in for the clocks in tests."""
    now = time.monotonic() if now is None else now
    cpu = _process_cpu() if cpu is None else cpu
    if state["wall"] is None:
        state["load"] = 1 - math.exp(-cpu / LOAD_TAU)
    else:
        dt = max(now - state["wall"], 1e-6)
        decay = math.exp(-dt / LOAD_TAU)
        state["load"] = state["load"] * decay + (cpu - state["cpu"]) / dt * (1 - decay)
    state["wall"], state["cpu"] = now, cpu
    return state["load"]


def blas_threads(sizes: list[int], batch_size: int, threads: int | None = None,
                 load: float | None = None, cpus: int | None = None, own: float = 0.0) -> int:
    """How many BLAS threads a training run of layer ``sizes`` and ``batch_size`` should use.

    ``threads`` (a ``--threads`` flag) wins. Otherwise one thread for small networks: their products (the
    largest batch·n_in·n_out below SMALL_MATMUL multiply-adds) are too small to share out, and on a busy machine
    idle BLAS threads spinning for work made digits training 20× slower (23 s against 1.2 s). Larger networks get
    the cores the machine has free: the CPU count less the other processes' load, that is the 1-minute load
    average (``os.getloadavg``) less this process's own part of it (:func:`own_load`), rounded, at least 1
    (``load``, ``own`` and ``cpus`` stand in for them in tests). OpenBLAS's threads wait for each other at every
    product, so a thread on a core that another process holds stalls the whole product."""
    cpus = cpus or os.cpu_count() or 1
    if threads is not None:
        return max(1, min(int(threads), cpus))
    work = max(batch_size * n_in * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if work < SMALL_MATMUL:
        return 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not on every platform
            load = 0.0
        own = own_load()
    return max(1, min(cpus, round(cpus - max(0.0, load - own))))


def threads_for(sizes: list[int], batch_size: int, threads: int | None = None):
    """The BLAS thread policy of a training run, as a context: at most :func:`blas_threads` threads inside it
    (NumPy's OpenBLAS, through threadpoolctl; nothing changes where threadpoolctl is missing). The count chosen
    is the context's ``threads`` attribute."""
    n = blas_threads(sizes, batch_size, threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        ctx = contextlib.nullcontext()
    else:
        ctx = threadpool_limits(limits=n, user_api="blas")
    ctx.threads = n
    return ctx


# --- fused passes: the same operations in the same order in kept arrays ---------------------------------------
# Each takes an optional ``work`` dict (a Workspace, or any dict): with it, the operations run in arrays kept
# there (the values are identical), so that the training step allocates nothing; the result is then a view
# into ``work``, valid until the next call. ufunc.reduce stands for np.sum / np.max, whose Python layer costs
# more than the arithmetic on an (N, 10) array; (N, 1) columns are copied out to (N, n) first, because a
# broadcasting operand makes NumPy allocate an iteration buffer on every call.


def softplus(z: Array) -> Array:
    """log(1 + e^z) without overflow (also for complex z)."""
    if np.iscomplexobj(z):
        return np.log1p(np.exp(z))
    return np.logaddexp(0, z)


def softmax(z: Array, out: Array, work: dict | None = None) -> Array:
    """Row-wise softmax into ``out``, shifted by the row maximum so that no exp overflows."""
    if work is None:
        shift = np.max(z.real, axis=1, keepdims=True)
        np.subtract(z, shift, out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out
    full = scratch(work, "softmax", z.shape, z.dtype)
    col = scratch(work, "softmax_col", (z.shape[0], 1), z.dtype)
    np.copyto(full, np.maximum.reduce(z.real, axis=1, keepdims=True, out=col))
    np.subtract(z, full, out=out)
    np.exp(out, out=out)
    np.copyto(full, np.add.reduce(out, axis=1, keepdims=True, out=col))
    out /= full
    return out


def softmax_cross_entropy_delta(z: Array, a: Array, t: Array, out: Array | None = None,
                                work: dict | None = None) -> Array:
    """δᴸ = a Σ_k t_k − t of softmax + cross-entropy: a − t, plus a (Σ_k t_k − 1) on rows of t that do not sum to
    1 (one-hot labels and probabilities do; the term is added only when some row needs it)."""
    work = {} if work is None else work
    out = np.subtract(a, t, out=out)
    # Σ_k t_k − 1 per row and the sum of their squares: a product with ones and a dot product, cheaper than
    # NumPy's row reductions over rows of a few classes
    ones = scratch(work, "ones_k", (t.shape[1],), out.dtype)
    ones.fill(1)
    t_sum = np.matmul(t, ones, out=scratch(work, "t_sum", (t.shape[0],), out.dtype))
    t_sum -= 1
    if np.dot(t_sum, t_sum) != 0:
        out += a * t_sum[:, None]
    return out


def softmax_cross_entropy(z, t, work=None):
    """−Σ_k t_k log softmax(z)_k = Σ_k t_k (m − z_k) + (Σ_k t_k) log(1 + S′), with m = max z and S′ the sum of
    e^(z_j − m) over all but one maximal j. Writing log Σ e^(z_j − m) as log1p(S′) keeps full relative precision
    when the prediction is confident and right (c ≈ e^(−20) for logits [20, 0]), where lse(z) − z_k would cancel."""
    work = {} if work is None else work
    n, k = z.shape
    zs, e = scratch(work, "nk", (n, k), z.dtype), scratch(work, "nk2", (n, k), z.dtype)
    top = scratch(work, "nk_top", (n, k), z.real.dtype)
    m, s1, c = (scratch(work, key, (n, 1), z.dtype) for key in ("m", "lse", "c"))
    np.copyto(zs, np.maximum.reduce(z.real, axis=1, keepdims=True, out=scratch(work, "m_real", (n, 1), z.real.dtype)))
    np.subtract(z, zs, out=zs)  # z − m ≤ 0; same-shape operands, as broadcasting (N, 1) would allocate a buffer
    np.exp(zs, out=e)
    # 1 at the maximal entries (z − m = 0), 0 elsewhere (z − m < 0), as sign + 1: a float mask, since bool
    # operands would make NumPy allocate casting buffers in the training step
    np.sign(zs.real, out=top)
    top += 1
    np.subtract(e, top, out=e)  # exactly 0 at the maxima (the complex step keeps its imaginary part)
    np.add.reduce(e, axis=1, keepdims=True, out=s1)
    m_real = np.add.reduce(top, axis=1, keepdims=True, out=scratch(work, "m_real", (n, 1), top.dtype))
    m_real -= 1
    s1 += m_real  # ties: each maximum after the first adds its e^0 = 1
    np.log1p(s1, out=s1)
    np.add.reduce(t, axis=1, keepdims=True, out=c)
    c *= s1
    np.multiply(t, zs, out=e)
    c -= np.add.reduce(e, axis=1, keepdims=True, out=m)  # − Σ t (z − m)
    return c[:, 0]


def sigmoid_bce(z, t, work=None):
    """−t log σ(z) − (1 − t) log(1 − σ(z)) = t softplus(−z) + (1 − t) softplus(z): no term cancels another, so
    c keeps full relative precision also for confident, right predictions (z = 35, t = 1: c ≈ e^(−35))."""
    if work is None or np.iscomplexobj(z):
        return np.sum(t * softplus(-z) + (1 - t) * softplus(z), axis=1)
    a, b = scratch(work, "nk", z.shape, z.dtype), scratch(work, "nk2", z.shape, z.dtype)
    np.negative(z, out=a)
    np.logaddexp(0, a, out=a)
    a *= t
    np.logaddexp(0, z, out=b)
    b *= np.subtract(1, t, out=scratch(work, "nk3", z.shape, z.dtype))
    a += b
    return np.add.reduce(a, axis=1, out=scratch(work, "n", z.shape[:1], z.dtype))


def identity_quadratic(z, t, work=None):
    if work is None:
        d = z - t
        return 0.5 * np.sum(d * d, axis=1)
    d = np.subtract(z, t, out=scratch(work, "nk", z.shape, z.dtype))
    d *= d
    c = np.add.reduce(d, axis=1, out=scratch(work, "n", z.shape[:1], z.dtype))
    c *= 0.5
    return c
