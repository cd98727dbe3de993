"""Data sets as (X, T) with rows as samples: the :class:`Dataset` (:mod:`.dataset`), the sets known by name
(:mod:`.builtin`) and the readers of files (:mod:`.readers`); :func:`load` finds a set by name or path."""

from __future__ import annotations

from pathlib import Path

from ..errors import DeltapropError
from .builtin import BISHOP, BUILTIN, NAMES, PLAYGROUND, bishop, named, playground
from .dataset import (Dataset, align, check_dataset, fingerprint, one_hot, real_matrix, split, standardizer,
                      targets_from_column)
from . import readers
from .readers import (csv_dataset, idx_dataset, load_idx, load_npz, load_xt, npz_dataset, parquet_dataset,
                      read_csv_rows, read_table)

__all__ = ["Dataset", "load", "align", "check_dataset", "one_hot", "real_matrix", "split", "standardizer",
           "targets_from_column", "fingerprint", "parquet_dataset", "read_table", "BISHOP", "BUILTIN", "NAMES", "PLAYGROUND", "bishop", "playground", "named",
           "csv_dataset", "idx_dataset", "load_idx", "load_npz", "load_xt", "npz_dataset", "read_csv_rows"]


def load(spec: str | Path, *, target: str | None = None, task: str | None = None, seed: int = 0,
         noise: float = 0.0, **table_options) -> Dataset:
    """A data set by name (built-in or synthetic, seeded) or from a file (.csv/.tsv, .parquet, .npz, IDX);
    ``table_options`` for tables: ``sep`` (detected if not given), ``categorical`` (column names),
    ``impute`` ("none", "mean", "median", "most_frequent"), ``unseen`` ("error" or "ignore")."""
    key = str(spec)
    ds = named(key, seed=seed, noise=noise)
    if ds is None:
        path = Path(key)
        if not path.exists():
            raise DeltapropError(f"{key}: no such file, and not a data set name ({', '.join(NAMES)})")
        return readers.read(path, target, task, **{k: v for k, v in table_options.items() if v is not None})
    if task is not None and task != ds.task:
        raise DeltapropError(f"{key} is a {ds.task} data set; --task {task} does not apply")
    return ds
