"""``deltaprop import FILE -o model.npz``: a safetensors model (from ``export``, or a PyTorch Sequential saved
with ``deltaprop.interop.exchange.save_torch``) or a layered network file as deltaprop's own model file."""

from __future__ import annotations

from pathlib import Path

from ..errors import DeltapropError
from ..interop import exchange


def register(sub) -> None:
    p = sub.add_parser("import", help="read a safetensors model (e.g. trained in PyTorch) into a model.npz")
    p.add_argument("file", help="a .safetensors model, or a layered network file (TOML) with its [standardize]")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.npz", help="the model file to write")
    p.set_defaults(func=run)


def run(args) -> int:
    out = Path(args.output)
    if out.suffix != ".npz":
        raise DeltapropError(f"{out}: the model file to write is an .npz (for other formats use deltaprop export)")
    if not out.parent.is_dir():
        raise DeltapropError(f"{out.parent}: no such directory to write {out.name} into")
    model = exchange.as_model(args.file)
    model.save(out)  # atomic: a temporary file renamed when complete
    sizes = "-".join(map(str, model.net.sizes))
    print(f"wrote {out} ({model.task}, {sizes}, {', '.join(g.name for g in model.net.activations)})")
    return 0
