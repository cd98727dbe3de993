"""``deltaprop playground [FILE]``: a local web page that draws the network with every z, a, δ and ∂L/∂w,
derives any of them, and trains on the Playground's 2-D sets (see docs/playground.md)."""

from __future__ import annotations

import sys

from ..errors import DeltapropError


def register(sub) -> None:
    p = sub.add_parser("playground", help="open a browser view of the engine: inspect a network, train on 2-D sets")
    p.add_argument("file", nargs="?", help="network file (TOML, either form; default: seed 004's exam network)")
    p.add_argument("--port", type=int, default=8004, help="port to listen on (0: any free port; default 8004)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 <= args.port <= 65535:
        raise DeltapropError(f"--port must be in 0 … 65535, got {args.port}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as e:
        raise DeltapropError(f"the playground needs starlette, uvicorn and websockets ({e.name} is missing): "
                             "pip install starlette uvicorn websockets") from None
    from ..view.playground.server import create_app, serve

    app = create_app(args.file)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"deltaprop playground: listening on {args.host}: anyone who can reach this address can use it",
              file=sys.stderr)

    def ready(url: str) -> None:
        print(f"deltaprop playground: {url}  (Ctrl+C to stop)", flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)

    serve(app, args.host, args.port, on_ready=ready)
    return 0
