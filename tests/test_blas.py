"""blas.plan, C ← αAB + βC in NumPy's own OpenBLAS, against NumPy's products in float64 (the oracle); where
the operands do not suit the BLAS it must write nothing and say so."""

import itertools

import numpy as np
import pytest

from deltaprop.engine import kernels as blas

needs_gemm = pytest.mark.skipif(blas.plan is None, reason="NumPy's BLAS is not a known OpenBLAS here")


def gemm(alpha, A, B, beta, C):
    """C ← αAB + βC through a plan made and called once; False (nothing written) where no plan can be made."""
    call = blas.plan(alpha, A, B, beta, C)
    if call is None:
        return False
    call()
    return True


def test_found_where_numpy_bundles_openblas():
    """pip's NumPy wheels bundle OpenBLAS: there the accumulating product must be found, not silently lost."""
    cfg = np.__config__.CONFIG["Build Dependencies"]["blas"]
    if "openblas" not in str(cfg.get("name", "")):
        pytest.skip(f"NumPy is built against {cfg.get('name')}")
    assert blas.plan is not None


def layouts(M):
    """The same matrix as C order, Fortran order, a transposed copy's transpose, and a strided slice."""
    big = np.zeros((M.shape[0] + 3, M.shape[1] + 2), M.dtype)
    big[1:1 + M.shape[0], 2:2 + M.shape[1]] = M
    return [M.copy(), np.asfortranarray(M), M.T.copy().T, big[1:1 + M.shape[0], 2:2 + M.shape[1]]]


@needs_gemm
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(5, 3, 4), (1, 7, 3), (6, 1, 2), (4, 5, 1), (33, 65, 17)])
def test_matches_numpy_for_every_layout(dtype, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A, B = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    C0 = rng.standard_normal((m, n)).astype(dtype)
    want = {(al, be): al * (A.astype(np.float64) @ B.astype(np.float64)) + be * C0
            for al, be in ((1.0, 1.0), (-0.3, 1.0), (2.0, 0.0), (0.5, -1.5))}
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for a, b, order in itertools.product(layouts(A), layouts(B), "CF"):
        for (al, be), w in want.items():
            C = np.array(C0, order=order)
            assert gemm(al, a, b, be, C)
            np.testing.assert_allclose(C, w, rtol=tol, atol=tol * 10)


@needs_gemm
def test_refuses_what_the_blas_cannot_take_and_writes_nothing():
    rng = np.random.default_rng(0)
    A, B = rng.random((4, 3)), rng.random((3, 5))
    C = rng.random((4, 5))
    keep = C.copy()
    ro = C.copy()
    ro.flags.writeable = False
    cases = [
        (A, B, rng.random((8, 10))[::2, ::2]),           # C with no unit stride
        (A.astype(np.float32), B, C),                     # mixed dtypes
        (A + 0j, B + 0j, C + 0j),                         # complex (the complex step takes NumPy's path)
        (A, rng.random((4, 5)), C),                       # inner sizes differ
        (A, B, rng.random((5, 4))),                       # wrong output shape
        (A, B, ro),                                       # read-only output
        (rng.random((8, 6))[::2, ::2], B, C),             # an operand with no unit stride
        (A, B, np.zeros((4, 5), np.int64)),               # not floating point
    ]
    for a, b, c in cases:
        before = c.copy()
        assert gemm(1.0, a, b, 1.0, c) is False
        np.testing.assert_array_equal(c, before)
    # C aliasing an operand: refused rather than read while written
    S = rng.random((4, 4))
    before = S.copy()
    assert gemm(1.0, S, S.T, 1.0, S) is False
    np.testing.assert_array_equal(S, before)
    np.testing.assert_array_equal(C, keep)


def test_numpy_only_environment_variable_turns_it_off(monkeypatch):
    monkeypatch.setenv("DELTAPROP_NUMPY_ONLY", "1")
    assert blas._bind() is None
