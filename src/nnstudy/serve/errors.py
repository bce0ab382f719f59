"""JSON answers of `nnstudy serve`: a body and a status, an error as {"error": ..., more}."""

from __future__ import annotations

from starlette.responses import Response


def json_response(obj, status: int = 200) -> Response:
    from nnstudy.store import to_json

    return Response(to_json(obj), status_code=status, media_type="application/json")


def error_response(status: int, message: str, **more) -> Response:
    return json_response({"error": message, **more}, status)
