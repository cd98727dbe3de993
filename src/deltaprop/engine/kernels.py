"""C ← α A B + β C with β = 1: the one BLAS product the training step needs that NumPy does not offer.

``np.matmul`` always overwrites its output, so plain SGD would have to write ∂C/∂W into a buffer and read it back
to add it to W. GEMM itself accumulates: with β = 1 the update W ← W − η ∂C/∂W = W + (−η s δ)ᵀ a_prev is one
call (``Network.add_step``). This module calls ``cblas_sgemm`` / ``cblas_dgemm`` in the very OpenBLAS that NumPy
loaded (found through NumPy's build configuration and threadpoolctl, called through ctypes), so the products run
in NumPy's own thread pool; a second BLAS, SciPy's, would bring a second pool whose threads fight NumPy's for the
cores.

Where that library cannot be found or fails its self-test (NumPy built against MKL or Accelerate, an unknown
symbol, a different integer width), :data:`plan` is None and the engine takes its plain NumPy path, which gives
the same numbers to rounding. ``DELTAPROP_NUMPY_ONLY=1`` in the environment forces that path.
"""

from __future__ import annotations

import ctypes
import os

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
    fn = _ROUTINES.get(C.dtype) if _ROUTINES else None
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


try:
    _ROUTINES = _bind()
except Exception:  # noqa: BLE001 - whatever goes wrong, the NumPy path is always there
    _ROUTINES = None
if _ROUTINES is not None and not _self_test():
    _ROUTINES = None

#: ``plan(alpha, A, B, beta, C)``: a call of no arguments doing C ← αAB + βC in NumPy's OpenBLAS, made once and
#: made again and again (see _plan); itself None where that BLAS is not available.
plan = _plan if _ROUTINES is not None else None
