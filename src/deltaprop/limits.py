"""The size limits every wing shares: one named number per rule, so training and loading agree on what a
network may be and how large a file may grow.

A limit refuses what is a typo (``--hidden 100000000``) or hostile (a file declaring a billion units) before
anything is allocated. Later work extends this module into budgets (time, memory); nothing here imports
anything of deltaprop's but the error type.
"""

from __future__ import annotations

from .errors import DeltapropError

# --- one network ---------------------------------------------------------------------------------------------
MAX_PARAMS = 2**25  # weights and biases: 256 MiB of float64; more is a typo, not a network for a CPU
MAX_LAYERS = 1000  # weight layers L
MAX_WIDTH = 1_000_000  # units in one layer
MAX_LAYER_WEIGHTS = 1_000_000  # weights between two layers that a hand-written network file may declare

# --- files ---------------------------------------------------------------------------------------------------
MODEL_FILE_BYTES = 2**30  # uncompressed size a model or checkpoint file may declare
META_BYTES = 2**24  # JSON metadata inside a model or checkpoint
CONFIG_BYTES = 2**20  # a run's config.toml holds a few dozen settings
NETWORK_FILE_BYTES = 16 * 2**20  # a network file is text written by a person
DATA_FILE_BYTES = 2**30  # a data file (.npz, IDX, gzip compressed or not)
CSV_BYTES = 2**28  # CSV cells become Python strings first (~10× their bytes); MNIST as CSV is 110 MB
IDX_ELEMENTS = 2**27  # numbers an IDX file may declare: 1 GiB as float64, ~3× MNIST's 47 million
NPZ_ARRAYS = 10_000  # members of an .npz: a model of 1000 layers has ~2000 arrays, a checkpoint ~5× that


def network_sizes(sizes, where: str) -> list[int]:
    """``sizes`` [n0, …, nL] if it is a list of 2 to MAX_LAYERS + 1 integers in [1, MAX_WIDTH] whose
    parameters Σ (n_{l−1} + 1) n_l stay within MAX_PARAMS; else a DeltapropError naming ``where``."""
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in sizes)):
        raise DeltapropError(f"{where}: network sizes must be a list of 2 to {MAX_LAYERS + 1} integers in "
                             f"[1, {MAX_WIDTH}], got {sizes!r}")
    n_params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if n_params > MAX_PARAMS:
        raise DeltapropError(f"{where}: a network of sizes {sizes} has {n_params} parameters; "
                             f"the limit is {MAX_PARAMS}")
    return sizes
