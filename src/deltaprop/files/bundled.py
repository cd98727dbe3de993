"""The example networks that ship inside the package (``deltaprop/examples``, the repository's examples/).

``deltaprop trace exam_004`` and ``deltaprop derive exam_004 --wrt z3`` find them by name (a file of that name
in the current folder wins); ``deltaprop examples`` lists them and copies one out.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from ..errors import DeltapropError

SUFFIXES = (".toml", ".npz", ".csv")


def folder() -> Path:
    """Where the examples lie: inside the installed package (in a checkout, a link to examples/)."""
    return Path(__file__).resolve().parents[1] / "examples"


def names() -> list[str]:
    d = folder()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def path(name: str) -> Path:
    """The file of the example ``name`` (``exam_004`` or ``exam_004.toml``); a "did you mean" if unknown."""
    stem = Path(name).name
    for suffix in SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    p = folder() / f"{stem}.toml"
    if p.is_file():
        return p
    raise DeltapropError(f"{name}: no such file or example{did_you_mean(stem, names())}; "
                         "`deltaprop examples` lists the examples")


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def find(file: str | Path) -> Path:
    """A network file as given, else the bundled example of that name."""
    p = Path(file)
    if p.exists() or str(file) == "":
        return p
    if p.parent == Path(".") or str(p.parent) == "examples":
        return path(str(file))
    return p  # a path elsewhere: let the reader name the missing file
