"""How NumPy's OpenBLAS starts: settings it reads once, when NumPy loads it, so they are made before NumPy is
imported. Part of the kernels seam (:mod:`.kernels` holds the rest), in a module of its own because it must not
import NumPy.

One thread at start (:func:`one_thread`, for the command line): OpenBLAS's idle threads spin for work after
every product, so a second thread started at import cost about 0.2 s of CPU in a digits run (0.23 of 1.1 s;
benchmarks/digits_end_to_end.py) without making it faster. The training loop and the model's predictions then
set the count the work pays for (:func:`.kernels.threads_for`, through threadpoolctl, which can raise it past
the count OpenBLAS started with).
"""

from __future__ import annotations

import os
import sys

THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")


def one_thread(environ=os.environ, modules=sys.modules) -> bool:
    """Start OpenBLAS with one thread, unless NumPy is already loaded (a caller that imported it keeps its
    settings) or the user set a thread count; True if it did. Children of this process inherit the setting."""
    if "numpy" in modules or any(name in environ for name in THREAD_SETTINGS):
        return False
    environ["OPENBLAS_NUM_THREADS"] = "1"
    return True
