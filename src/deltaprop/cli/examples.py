"""``deltaprop examples [NAME] [-o DIR]``: list the example networks that ship with deltaprop, or copy one here."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import DeltapropError
from ..files import bundled


def register(sub) -> None:
    p = sub.add_parser("examples", help="list the bundled example networks, or copy one to the current folder")
    p.add_argument("name", nargs="?", help="the example to copy (e.g. exam_004); without it, the list")
    p.add_argument("-o", "--out", metavar="DIR", default=".", help="folder to copy into (default: the current one)")
    p.add_argument("--force", action="store_true", help="overwrite a file of the same name")
    p.set_defaults(func=run)


def _summary(path: Path) -> str:
    """The first comment line of the file: what the example is."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def run(args) -> int:
    if args.name is None:
        names = bundled.names()
        width = max(map(len, names), default=0)
        for name in names:
            print(f"{name:<{width}}  {_summary(bundled.folder() / f'{name}.toml')}")
        print(f"\n{len(names)} examples, bundled with deltaprop; copy one here with: deltaprop examples NAME "
              "(trace, derive and draw also take the name)")
        return 0
    src = bundled.path(args.name)
    out = Path(args.out)
    if not out.is_dir():
        raise DeltapropError(f"{out}: not a folder")
    dst = out / src.name
    if dst.exists() and not args.force:
        raise DeltapropError(f"{dst} exists; --force overwrites it")
    shutil.copyfile(src, dst)
    print(f"copied {src.name} to {dst}; try: deltaprop trace {dst}")
    return 0
