"""Fuzz targets: each takes untrusted input and must either succeed or raise DeltapropError — nothing else,
no hang, no code run. Shared by the hypothesis tests (a few thousand cases) and `fuzz/run.py` (many more)."""

from __future__ import annotations

import tomllib

import numpy as np

from deltaprop import netfile
from deltaprop.errors import DeltapropError


def netfile_text(text: str) -> None:
    """A network file's text, through the TOML reader and the builder."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    netfile_doc(doc)


def netfile_doc(doc: dict, must_build: bool = False) -> None:
    """An already-parsed network document: build it, and if it builds, run it on one sample."""
    try:
        net = netfile.from_dict(doc, source="<fuzz>")
    except DeltapropError:
        if must_build:
            raise
        return
    n0 = net.sizes[0] if hasattr(net, "sizes") else len(net.inputs)
    x = np.zeros((1, n0))
    with np.errstate(all="ignore"):
        try:
            net.forward(x)
        except DeltapropError:
            pass
