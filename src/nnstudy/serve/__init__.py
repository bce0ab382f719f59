"""`nnstudy serve`: a playground in the browser on nnstudy's own engine (pages, API, WebSocket in
`app`; one training in `session`; the parameters' rules in `params`). Imported only by that command:
starlette and uvicorn are needed for it alone."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """One clear line (exit 2) for a port in use or an address this machine does not have, before
    uvicorn would log its own error and exit 3."""
    import socket

    from nnstudy.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            s.bind(infos[0][4])
    except OSError as e:
        raise UsageError(f"cannot serve on {host} port {port} ({e.strerror or e}); pass --port N "
                         "(another port) or --host ADDRESS") from None


def serve(home: str | Path, host: str = "127.0.0.1", port: int = 8765, log=print) -> None:
    """Serve the app until Ctrl-C (uvicorn stops cleanly on SIGINT/SIGTERM, closing every socket,
    which stops every training)."""
    try:
        import uvicorn

        from nnstudy.serve.app import create_app
    except ModuleNotFoundError as e:
        from nnstudy.errors import UsageError

        raise UsageError(f"nnstudy serve needs {e.name}: pip install 'nnstudy[serve]' (or `make setup`)") from None
    import torch

    torch.set_num_threads(1)  # each training on one core: tiny nets, and trainings side by side (see README)
    if not is_loopback(host):
        log(f"nnstudy: warning: serving on {host}, not a loopback address: anyone who can reach this "
            "machine can train here and read the store's runs; use --host 127.0.0.1 to keep it local")
    _check_free(host, port)
    shown = f"[{host}]" if ":" in host else host
    log(f"nnstudy serve: http://{shown}:{port}/  (store {Path(home).resolve()}; Ctrl-C stops)")
    from nnstudy.serve.guard import LOOPBACK_HOSTS

    hosts = LOOPBACK_HOSTS if is_loopback(host) else None  # elsewhere: the name it is reached by is the user's
    uvicorn.run(create_app(home, hosts), host=host, port=port, log_level="warning", ws_max_size=1 << 20)
    print("nnstudy serve: stopped", file=sys.stderr)
