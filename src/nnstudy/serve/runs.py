"""The store's pages of `nnstudy serve`: the runs (what `nnstudy runs --json` lists), one run (`nnstudy
show --json` and its curves), its config as TOML, its figures, and the latest report. Read-only: the
store opens read-only for each request. No path is built from a request: run ids come from the
database, figure names from the run folder's own listing."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from nnstudy.errors import UsageError
from nnstudy.serve import params
from nnstudy.serve.errors import error_response as _err
from nnstudy.serve.errors import json_response as _json


async def runs(request: Request) -> Response:
    from nnstudy import console

    q = request.query_params
    allowed = {"kind": ("study", "train"), "status": ("running", "complete", "diverged", "failed", "crashed")}
    for key, valid in allowed.items():
        if q.get(key) and q[key] not in valid:
            return _json({"error": "invalid parameter", "field": key, "message": f"{key}={q[key][:64]!r}",
                          "valid": ", ".join(valid)}, 422)

    def listing():
        store = request.app.state.s.store()
        try:
            rows = store.runs(study=q.get("study") or None, kind=q.get("kind") or None)
            if q.get("status"):
                rows = [r for r in rows if r["status"] == q["status"]]
            return {"runs": console.runs_listing(store, rows),
                    "studies": sorted({r["study"] for r in store.runs() if r["study"]}),
                    "report": (request.app.state.s.home / "report" / "report.html").is_file()}
        finally:
            store.close()
    return _json(await asyncio.to_thread(listing))


async def run_detail(request: Request) -> Response:
    from nnstudy import console

    def detail():
        store = request.app.state.s.store()
        try:
            r = store.get(request.path_params["run_id"])
            curves = {}
            for step, split, name, value in store.metrics(r["id"]):
                c = curves.setdefault(f"{split}_{name}", [[], []])
                c[0].append(step)
                c[1].append(value if value is None or math.isfinite(value) else None)
            defaults = console.config_defaults()  # TrainConfig's: what `nnstudy train` uses unless told
            changed = {k: v for k, v in r["config"].items() if k in defaults and defaults[k] != v}
            link = params.playground_link(r["config"], request.app.state.s.uploads) if r["kind"] == "train" else None
            return console.show_object(store, r) | {"curves": curves, "config_changed": changed,
                                                    "playground": None if link is None else "/?" + link}
        finally:
            store.close()
    try:
        return _json(await asyncio.to_thread(detail))
    except UsageError as e:
        return _err(404, str(e))


async def config_toml(request: Request) -> Response:
    """A run's config as the TOML file `nnstudy train --config` reads."""
    from nnstudy.serve.session import to_toml

    store = request.app.state.s.store()
    try:
        r = store.get(request.path_params["run_id"])
    except UsageError as e:
        return _err(404, str(e))
    finally:
        store.close()
    return Response(to_toml(r["config"]), media_type="text/plain; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{r["id"]}.toml"'})


async def figure(request: Request) -> Response:
    from nnstudy import console

    store = request.app.state.s.store()
    try:
        r = store.get(request.path_params["run_id"])
        name = request.path_params["name"]
        if name not in console.figures(store, r["id"]):  # the folder's own listing: no other path is reachable
            return _err(404, f"run {r['id']} has no figure {name[:64]!r}")
        return FileResponse(store.run_dir(r["id"]) / name, media_type="image/png")
    except UsageError as e:
        return _err(404, str(e))
    finally:
        store.close()


async def report(request: Request) -> Response:
    path = request.app.state.s.home / "report" / "report.html"
    if not path.is_file():
        return HTMLResponse("<p>No report in this store yet: <code>nnstudy report</code> writes one.</p>", 404)
    return FileResponse(path, media_type="text/html")
