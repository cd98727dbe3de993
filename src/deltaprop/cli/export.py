"""``deltaprop export MODEL --to onnx|torch|safetensors|toml -o FILE``: a trained model for other tools."""

from __future__ import annotations

from ..interop import exchange


def register(sub) -> None:
    p = sub.add_parser("export", help="write a trained model as ONNX, a PyTorch state_dict, safetensors or TOML")
    p.add_argument("model", help="model.npz, model.safetensors, or a layered network file (TOML)")
    p.add_argument("--to", required=True, choices=exchange.TARGETS,
                   help="onnx (opset 17, standardisation and probabilities included); torch (an nn.Sequential's "
                        "state_dict in safetensors); safetensors (the model file's arrays, bit for bit); toml "
                        "(a layered network file with its weights)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write (written only when "
                                                                         "complete)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="ONNX only: tensor type")
    p.add_argument("--opset", type=int, default=exchange.OPSET, help="ONNX only: opset version (≥ 17)")
    p.add_argument("--form", choices=("layers", "neurons"), default="layers",
                   help="TOML only: [[layer]] tables, or one [neurons.ID] table per neuron (what derive reads)")
    p.set_defaults(func=run)


def run(args) -> int:
    options = {"dtype": args.dtype, "opset": args.opset} if args.to == "onnx" else {}
    if args.to == "toml":
        options.update(source=str(args.model), form=args.form)
    path = exchange.export(args.model, args.output, args.to, **options)
    print(f"wrote {path} ({args.to})")
    return 0
