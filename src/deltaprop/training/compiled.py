"""The optimizers' updates as single passes compiled by Numba (an optional extra: ``pip install deltaprop[fast]``).

Each kernel reads θ, ∂C/∂θ and the state once and writes θ and the state once, where the NumPy path of
:mod:`.optim` makes 10–12 passes over memory. Each computes exactly the NumPy path's operations in the same
order, element by element (no fast-math, no reassociation), so the two give the same numbers; the arrays are
the flat views of one parameter, its gradient and its state (one memory order), the scalars are already in the
parameter's dtype (so float32 stays float32, as in NumPy and PyTorch).

Importing this module imports Numba and compiles (or loads from Numba's cache) the kernels on first call; the
optimizer does so only for networks large enough to repay it (:data:`deltaprop.training.optim.COMPILED_MIN`).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def adam(p, g, m, v, l2, keep, b1, a1, b2, a2, eps_hat, step_hat):  # pragma: no cover - compiled
    """g ← g + λθ (L2; λ = 0 otherwise); θ ← keep·θ (AdamW's (1 − ηλ)θ; keep = 1 otherwise);
    m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − (m / (√v + ε√(1−β₂ᵗ))) · η√(1−β₂ᵗ)/(1−β₁ᵗ)."""
    for i in range(p.size):
        gi = g[i] + l2 * p[i]
        mi = b1 * m[i] + a1 * gi
        vi = b2 * v[i] + a2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = keep * p[i] - (mi / (math.sqrt(vi) + eps_hat)) * step_hat


@njit(cache=True, nogil=True, error_model="numpy")
def momentum(p, g, v, l2, mu, lr, nesterov):  # pragma: no cover - compiled
    """g ← g + λθ; v ← μv + g; θ ← θ − η v (heavy ball) or θ − η (g + μv) (Nesterov)."""
    for i in range(p.size):
        gi = g[i] + l2 * p[i]
        vi = mu * v[i] + gi
        v[i] = vi
        d = mu * vi + gi if nesterov else vi
        p[i] = p[i] - d * lr
