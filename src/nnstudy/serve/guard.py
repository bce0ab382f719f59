"""Requests from other web pages, refused. A page on any site can open a WebSocket to 127.0.0.1 or
post a form there (browsers apply no same-origin rule to either), and a site whose name resolves to
127.0.0.1 (DNS rebinding) can read the answers. So: a request that names an Origin must come from
this server's own pages, and when the server listens on a loopback address the Host it was asked
for must be a loopback name. Tools that send no Origin (curl, the tests, the benchmark) pass."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class SameOrigin:
    """ASGI middleware: 403 (HTTP) or a refused WebSocket for requests from elsewhere (see above).
    hosts: the host names the server answers to (None: any, as on an address the user chose)."""

    def __init__(self, app, hosts: tuple[str, ...] | None = None):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and (why := self.refusal(scope)):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": why})
                return
            body = f'{{"error": "{why}"}}'.encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def refusal(self, scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.hosts is not None and _hostname(host) not in self.hosts:
            return "this server answers to its loopback address only"
        origin = headers.get("origin")
        if origin is not None and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
            return "requests from other sites are refused"
        if origin == "null" and scope["type"] == "websocket":
            return "requests from other sites are refused"
        return None


def _hostname(host: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1'; '[::1]:8765' -> '::1'."""
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
