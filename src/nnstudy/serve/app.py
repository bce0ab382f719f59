"""The web app of `nnstudy serve`: pages, a JSON API over the store, and one WebSocket per training.

Routes
  /  /compare  /runs            the three pages (static files shipped in the package)
  GET  /api/fields              the playground's parameters: defaults and valid values
  POST /api/check               parameters -> the config they train (200) or 422 {field, message, valid}
  POST /api/points              the points of the parameters' data fields (drawn while another field is bad)
  POST /api/upload              a CSV or .npz of 2-D points (<= 10 MB) -> {"dataset": "points:<id>"}; 413, 422
  GET  /api/runs[?study&kind&status]      the store's runs (what `nnstudy runs --json` lists)
  GET  /api/runs/{id}           one run (`nnstudy show --json`) and its curves
  GET  /api/runs/{id}/config.toml         its config as a file for `nnstudy train --config`
  GET  /api/runs/{id}/figures/{name}      one of the run's PNG figures
  GET  /report                  the store's latest report (report.html), if written
  WS   /ws                      a training: {"type": "config", "config": {...}}, then run | pause | step |
                                reset | save; the server answers ready, frame, saved, error. Closing it
                                stops the training.
No route reads a path it did not list itself from the store: run ids come from the database, figure
names from the run folder's listing, uploads by the hex digest the server gave them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from nnstudy.errors import UsageError
from nnstudy.serve import params, runs
from nnstudy.serve.errors import error_response as _err
from nnstudy.serve.errors import json_response as _json
from nnstudy.serve.guard import SameOrigin
from nnstudy.serve.session import Session, save_run

log = logging.getLogger("nnstudy.serve")
STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 10 * 1024 * 1024  # bytes of one uploaded file
MAX_BODY = 64 * 1024  # bytes of a JSON request or WebSocket message
MAX_UPLOADS = 1000  # uploaded sets kept in STORE/uploads (at most ~240 kB each): a bound on the disk they take
MAX_TRAININGS = 4  # trainings at once (each a WebSocket with a built session); more are refused
FRAME_SECONDS = 0.05  # a frame every 50 ms (20 a second) while training; steps fill the time between
MAX_STEPS_PER_MESSAGE = 1000  # a "step" message takes at most this many steps


class State:
    def __init__(self, home: Path):
        self.home = Path(home)
        self.uploads = self.home / "uploads"
        self.trainings = 0

    def store(self, readonly: bool = True):
        from nnstudy.store import Store

        return Store(self.home, readonly=readonly)




async def _read_json(request: Request):
    body = await request.body()
    if len(body) > MAX_BODY:
        return None, _err(413, f"request body over {MAX_BODY:,} bytes")
    try:
        return json.loads(body or b"{}", parse_constant=_no_constant), None
    except (ValueError, RecursionError) as e:
        return None, _json({"error": "invalid parameter", "field": "body", "message": f"not JSON: {e}"[:200],
                            "valid": "a JSON object of parameters"}, 422)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def page(name: str):
    async def handler(request: Request) -> Response:
        return HTMLResponse((STATIC / name).read_text(encoding="utf-8"))
    return handler


async def fields(request: Request) -> Response:
    return _json({"fields": params.describe(), "limits": {"upload_bytes": MAX_UPLOAD, "trainings": MAX_TRAININGS,
                                                         "points": params.MAX_POINTS, "width": params.MAX_WIDTH,
                                                         "depth": params.MAX_DEPTH, "steps": params.MAX_STEPS}})


async def check(request: Request) -> Response:
    body, error = await _read_json(request)
    if error:
        return error
    try:
        cfg = params.parse(body, request.app.state.s.uploads)
    except params.Invalid as e:
        return _json(e.body(), 422)
    return _json({"config": params.public(cfg)})


async def data_points(request: Request) -> Response:
    """The points of a setup's data fields (the rest ignored): the page draws the data even while a
    model or training field is invalid."""
    from nnstudy.data import load_dataset
    from nnstudy.serve.session import points

    body, error = await _read_json(request)
    if error:
        return error
    try:
        cfg = params.parse_data(body, request.app.state.s.uploads)
        return _json(points(await asyncio.to_thread(load_dataset, cfg)))
    except params.Invalid as e:
        return _json(e.body(), 422)
    except UsageError as e:
        return _json({"error": "invalid parameter", "field": "dataset", "message": str(e), "valid": ""}, 422)


async def upload(request: Request) -> Response:
    """The raw bytes of a CSV or .npz (the body itself, or one multipart file field)."""
    from nnstudy.data.points import parse_points, save_points
    from nnstudy.errors import DataError

    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD + 4096:
        return _err(413, f"upload over {MAX_UPLOAD // 2**20} MB", limit=MAX_UPLOAD)
    chunks, size = [], 0
    async for chunk in request.stream():  # counted as it arrives: a missing or false length is no way round
        size += len(chunk)
        if size > MAX_UPLOAD + 4096:
            return _err(413, f"upload over {MAX_UPLOAD // 2**20} MB", limit=MAX_UPLOAD)
        chunks.append(chunk)
    raw, filename = b"".join(chunks), request.query_params.get("filename", "")[:200]
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        raw, filename = _multipart_file(raw, ctype) or (b"", filename)
    if len(raw) > MAX_UPLOAD:
        return _err(413, f"upload over {MAX_UPLOAD // 2**20} MB", limit=MAX_UPLOAD)
    try:
        x, y = await asyncio.to_thread(parse_points, raw, filename)
    except DataError as e:
        return _json({"error": "invalid upload", "field": "file", "message": str(e),
                      "valid": "a numeric CSV (x1,x2,label per line) or an .npz with x (N, 2) and y (N,); "
                               "up to 10 MB"}, 422)
    digest = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()[:16]
    s = request.app.state.s
    s.uploads.mkdir(parents=True, exist_ok=True)
    path = s.uploads / f"{digest}.npz"
    if not path.exists() and sum(1 for _ in s.uploads.glob("*.npz")) >= MAX_UPLOADS:
        return _err(507, f"the store holds {MAX_UPLOADS} uploaded sets already; delete some from {s.uploads}")
    save_points(path, x, y)
    return _json({"dataset": f"points:{digest}", "points": len(x), "classes": int(y.max()) + 1})


def _multipart_file(raw: bytes, ctype: str) -> tuple[bytes, str] | None:
    """The first file part of a multipart body (the page posts the bytes directly; this is for curl -F)."""
    import email.parser
    import email.policy

    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1", "replace") + b"\r\n\r\n" + raw)
    if not msg.is_multipart():
        return None
    for part in msg.iter_parts():
        if part.get_filename() is not None:
            return part.get_payload(decode=True) or b"", part.get_filename()[:200]
    return None


async def ws_train(ws: WebSocket) -> None:
    """One training per socket; see the module's docstring for the messages."""
    await ws.accept()
    s: State = ws.app.state.s
    session: Session | None = None
    counted = False
    trainer: asyncio.Task | None = None
    send_lock = asyncio.Lock()

    async def send(obj: dict) -> None:
        async with send_lock:
            await ws.send_text(json.dumps(obj, allow_nan=False))

    async def stop() -> None:
        nonlocal trainer
        if trainer is not None:
            trainer.cancel()
            try:
                await trainer
            except (asyncio.CancelledError, Exception):
                pass
            trainer = None

    async def run_loop() -> None:
        try:
            session.beat = None  # a fresh beat after a pause
            while not session.done:
                await send(await asyncio.to_thread(_locked, session, session.tick, FRAME_SECONDS))
        except (asyncio.CancelledError, WebSocketDisconnect):
            raise
        except Exception as e:  # a bug: say so in the page, keep the server serving
            log.exception("training stopped")
            await send({"type": "error", "status": 500, "message": f"training stopped: {type(e).__name__}: {e}"})

    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            if len(text) > MAX_BODY:
                await send({"type": "error", "status": 413, "message": f"message over {MAX_BODY:,} bytes"})
                continue
            try:
                msg = json.loads(text, parse_constant=_no_constant)
                kind = msg.get("type") if isinstance(msg, dict) else None
            except (ValueError, RecursionError):
                msg, kind = None, None
            if kind == "config":
                await stop()
                try:
                    cfg = params.parse(msg.get("config", {}), s.uploads)
                except params.Invalid as e:
                    await send({"type": "error", "status": 422, **e.body()})
                    continue
                if not counted:
                    if s.trainings >= MAX_TRAININGS:
                        await send({"type": "error", "status": 503, "field": None, "message":
                                    f"{MAX_TRAININGS} trainings are running already; close a tab and try again"})
                        continue
                    s.trainings += 1
                    counted = True
                try:
                    session = await asyncio.to_thread(Session, cfg)
                except UsageError as e:  # data that does not load (an upload removed meanwhile, ...)
                    await send({"type": "error", "status": 422, "field": "dataset", "message": str(e), "valid": ""})
                    continue
                await send({"type": "ready", "config": params.public(cfg), **session.points()})
                await send(await asyncio.to_thread(_locked, session, session.frame))
            elif session is None and kind in ("run", "pause", "step", "reset", "save"):
                await send({"type": "error", "status": 409, "message": "send a config first"})
            elif kind == "run":
                if trainer is None or trainer.done():
                    trainer = asyncio.create_task(run_loop())
            elif kind == "pause":
                await stop()
                await send(await asyncio.to_thread(_locked, session, session.frame))
            elif kind == "step":
                await stop()
                n = msg.get("steps", 1)
                n = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_STEPS_PER_MESSAGE else 1
                await asyncio.to_thread(_locked, session, session.train_for, 60.0, n)
                await send(await asyncio.to_thread(_locked, session, session.frame))
            elif kind == "reset":
                await stop()
                await asyncio.to_thread(_locked, session, session.reset)
                await send(await asyncio.to_thread(_locked, session, session.frame))
            elif kind == "save":
                await send(await asyncio.to_thread(_save, s, session))
            else:
                await send({"type": "error", "status": 422, "field": "type", "message": "unknown message",
                            "valid": "config, run, pause, step, reset, save"})
    except WebSocketDisconnect:
        pass
    finally:  # the tab is gone: its training stops here
        await stop()
        if counted:
            s.trainings -= 1


def _locked(session: Session, fn, *args):
    with session.lock:
        return fn(*args)


def _save(s: State, session: Session) -> dict:
    with session.lock:
        store = s.store(readonly=False)
        try:
            return save_run(session, store)
        except ValueError as e:
            return {"type": "error", "status": 409, "message": str(e)}
        finally:
            store.close()


def create_app(home: str | Path, hosts: tuple[str, ...] | None = None) -> Starlette:
    """hosts: the Host names to answer (serve passes the loopback names when it listens on one; see
    guard.SameOrigin); None: any."""
    routes = [
        Route("/", page("playground.html")), Route("/compare", page("compare.html")), Route("/runs", page("runs.html")),
        Route("/api/fields", fields), Route("/api/check", check, methods=["POST"]),
        Route("/api/points", data_points, methods=["POST"]),
        Route("/api/upload", upload, methods=["POST"]), Route("/api/runs", runs.runs),
        Route("/api/runs/{run_id}", runs.run_detail), Route("/api/runs/{run_id}/config.toml", runs.config_toml),
        Route("/api/runs/{run_id}/figures/{name}", runs.figure),
        Route("/report", runs.report), WebSocketRoute("/ws", ws_train),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SameOrigin, hosts=hosts)])
    app.state.s = State(Path(home))
    return app
