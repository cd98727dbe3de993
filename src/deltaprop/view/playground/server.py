"""The playground's web application: Starlette on uvicorn, JSON over HTTP for inspect mode, a WebSocket
for live training. Every front-end file is in ``static/`` (KaTeX vendored), so the page works offline.

Inspect mode (one network per server, as a local tool has one user)::

    GET  /api/state                 the network, its drawing data and its trace (``deltaprop trace --json``)
    POST /api/edit   {field, key, value}     one change; {"error": one line} leaves everything as it was
    POST /api/derive {kind, key, lr, notation}   the ``derive --format markdown`` text
    POST /api/update {lr}           w ← w − η ∂L/∂w for every parameter; old and new values
    POST /api/open   {text, name}   a TOML network file of either form
    POST /api/reset                 back to the file the server started with
    GET  /api/download              the current network as a neuron-level TOML file

Train mode: ``/ws/train``, one training session per connection (a closed tab ends it). The page sends
``{"cmd": …}`` (config, play, pause, step, reset, hover, csv, inspect, ack) and receives ``data``, ``frame``,
``state`` and ``error`` messages. While playing, the server trains for FRAME_BUDGET_S, then sends a frame if
the page has drawn the previous one (``ack``), so a slow page slows the view, never the training.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

from ...errors import DeltapropError
from . import data2d
from .session import TrainSession, timed_epochs
from .state import InspectState, clean, one_line

MAX_BODY_BYTES = 17 * 2**20  # a network file's limit (16 MiB) and its JSON wrapping
FRAME_BUDGET_S = 0.02  # training time between view updates: at most ~50 updates per second
DEFAULT_NETWORK = "exam_004.toml"  # seed 004's exam network, shipped with the package


def static_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("static")))


def default_toml() -> str:
    return resources.files(__package__).joinpath(DEFAULT_NETWORK).read_text(encoding="utf-8")


def create_app(path: str | None = None, *, text: str | None = None, source: str | None = None):
    """The Starlette app for network file ``path`` (or TOML ``text``; default: the exam network)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect

    if path is not None:
        start_text, start_source = Path(path).read_text(encoding="utf-8-sig"), str(path)
        InspectState.from_file(path)  # the CLI's checks (size, UTF-8, regular file) and a clear error now
    else:
        start_text, start_source = (text, source or "network.toml") if text is not None else (default_toml(), DEFAULT_NETWORK)
    holder = {"state": InspectState.from_toml(start_text, start_source)}

    def error(message: str, status: int = 200) -> JSONResponse:
        # a rejected value (a bad formula, NaN in a field) is an ordinary answer, {"error": one line}, not an
        # HTTP failure: browsers log every failed request as a console error. Malformed requests get 400/413.
        return JSONResponse({"error": message}, status_code=status)

    async def body(request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise HTTPException(413, f"request larger than {MAX_BODY_BYTES // 2**20} MiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HTTPException(413, f"request larger than {MAX_BODY_BYTES // 2**20} MiB")
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise HTTPException(400, "the request is not valid JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(400, "the request must be a JSON object")
        return data

    def guarded(fn):
        """An endpoint whose DeltapropError becomes {"error": one line} (state unchanged) instead of a 500."""
        async def endpoint(request: Request):
            try:
                return await fn(request)
            except DeltapropError as e:
                return error(one_line(e))
        return endpoint

    async def index(request: Request):
        return FileResponse(static_dir() / "index.html", headers={"Cache-Control": "no-store"})

    @guarded
    async def get_state(request: Request):
        return JSONResponse(await run_in_threadpool(holder["state"].view))

    @guarded
    async def edit(request: Request):
        d = await body(request)
        if "field" not in d or "value" not in d:
            return error("an edit needs field and value", 400)
        st = holder["state"]
        await run_in_threadpool(st.edit, d["field"], d.get("key"), d["value"])
        return JSONResponse(st.view())

    @guarded
    async def derive(request: Request):
        d = await body(request)
        md = await run_in_threadpool(holder["state"].derivation, d.get("kind"), d.get("key"), d.get("lr"),
                                     d.get("notation", "exam"))
        return JSONResponse({"markdown": md})

    @guarded
    async def update(request: Request):
        d = await body(request)
        st = holder["state"]
        rows = await run_in_threadpool(st.apply_update, d.get("lr"))
        return JSONResponse({"rows": rows, "view": st.view()})

    @guarded
    async def open_file(request: Request):
        d = await body(request)
        text, name = d.get("text"), d.get("name") or "network.toml"
        if not isinstance(text, str) or not isinstance(name, str):
            return error("open needs the file's text and name", 400)
        holder["state"] = await run_in_threadpool(InspectState.from_toml, text, Path(name).name)
        return JSONResponse(holder["state"].view())

    @guarded
    async def reset(request: Request):
        holder["state"] = await run_in_threadpool(InspectState.from_toml, start_text, start_source)
        return JSONResponse(holder["state"].view())

    @guarded
    async def download(request: Request):
        st = holder["state"]
        name = Path(st.source).stem if st.source.endswith(".toml") else "network"
        return Response(st.to_toml(), media_type="application/toml",
                        headers={"Content-Disposition": f'attachment; filename="{name}-playground.toml"'})

    async def train_ws(ws: WebSocket):
        await ws.accept()
        session: TrainSession | None = None
        busy = asyncio.Lock()  # one thing at a time touches the session
        flags = {"playing": False, "acked": True}
        trainer: asyncio.Task | None = None

        async def send(msg: dict) -> None:
            await ws.send_text(json.dumps(msg, allow_nan=False))

        async def send_frame() -> None:
            flags["acked"] = False
            await send(await run_in_threadpool(session.frame))

        async def play() -> None:
            try:
                while flags["playing"]:
                    async with busy:
                        await run_in_threadpool(timed_epochs, session, FRAME_BUDGET_S)
                        if flags["acked"]:
                            await send_frame()
                    await asyncio.sleep(0)
            except DeltapropError as e:
                flags["playing"] = False
                await send({"type": "error", "message": one_line(e)})
                await send({"type": "state", "playing": False})

        async def stop() -> None:
            nonlocal trainer
            flags["playing"] = False
            if trainer is not None:
                await trainer
                trainer = None

        try:
            while True:
                raw = await ws.receive_text()
                try:
                    try:
                        msg = json.loads(raw)
                    except (json.JSONDecodeError, RecursionError):
                        raise DeltapropError("the message is not valid JSON") from None
                    cmd = msg.get("cmd") if isinstance(msg, dict) else None
                    if cmd == "ack":
                        flags["acked"] = True
                        continue
                    if cmd in ("config", "reset", "csv"):
                        await stop()
                        async with busy:
                            if cmd == "csv":
                                text = msg.get("text")
                                if not isinstance(text, str):
                                    raise DeltapropError("csv needs the file's text")
                                points = await run_in_threadpool(data2d.from_csv, text)
                                cfg = {**(session.config if session else {}), "dataset": "csv"}
                                new = await run_in_threadpool(TrainSession, cfg, points)
                            elif cmd == "config" or session is None:
                                cfg = msg.get("config", {})
                                new = await run_in_threadpool(TrainSession, cfg,
                                                              session.custom if session else None)
                            else:
                                new = session
                                await run_in_threadpool(session.reset)
                            session = new
                            await send({"type": "data", **session.points()})
                            await send_frame()
                            await send({"type": "state", "playing": False})
                    elif session is None:
                        raise DeltapropError("send the settings first ({\"cmd\": \"config\", …})")
                    elif cmd == "play":
                        if not flags["playing"]:
                            flags["playing"], flags["acked"] = True, True
                            trainer = asyncio.create_task(play())
                        await send({"type": "state", "playing": True})
                    elif cmd == "pause":
                        await stop()
                        await send({"type": "state", "playing": False})
                    elif cmd == "step":
                        await stop()
                        async with busy:
                            await run_in_threadpool(session.run_epoch)
                            await send_frame()
                        await send({"type": "state", "playing": False})
                    elif cmd == "hover":
                        n = msg.get("neuron")
                        ok = (isinstance(n, list) and len(n) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in n))
                        session.hover = tuple(n) if ok else None
                        if not flags["playing"]:
                            async with busy:
                                await send_frame()
                    elif cmd == "inspect":
                        await stop()
                        async with busy:
                            holder["state"] = await run_in_threadpool(session.inspect_state)
                        await send({"type": "state", "playing": False})
                        await send({"type": "inspect_ready"})
                    else:
                        raise DeltapropError(f"unknown command {cmd!r}")
                except DeltapropError as e:
                    await send({"type": "error", "message": one_line(e)})
        except WebSocketDisconnect:
            pass
        finally:
            flags["playing"] = False
            if trainer is not None:
                trainer.cancel()
                try:
                    await trainer
                except (asyncio.CancelledError, Exception):
                    pass

    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    routes = [
        Route("/", index),
        Route("/api/state", get_state),
        Route("/api/edit", edit, methods=["POST"]),
        Route("/api/derive", derive, methods=["POST"]),
        Route("/api/update", update, methods=["POST"]),
        Route("/api/open", open_file, methods=["POST"]),
        Route("/api/reset", reset, methods=["POST"]),
        Route("/api/download", download),
        WebSocketRoute("/ws/train", train_ws),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.holder = holder
    return app


def serve(app, host: str = "127.0.0.1", port: int = 8004, on_ready=None) -> None:
    """Run ``app`` on uvicorn until interrupted; ``on_ready(url)`` once it listens."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise DeltapropError(f"cannot listen on {host}:{port} ({e.strerror}); try --port 0 for a free port") from None
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="auto", lifespan="off")
    server = uvicorn.Server(config)

    async def main():
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and on_ready is not None:
            on_ready(f"http://{'[' + host + ']' if ':' in host else host}:{port}/")
        await task

    try:
        asyncio.run(main())
    finally:
        sock.close()


__all__ = ["create_app", "serve", "clean"]
