"""A test-only stand-in for ``serve`` that is broken on purpose (never used outside the tests).

``BROKEN_MODE=5xx``: /ping is healthy but every /invocations answers 500, as a model that loads
yet fails on real traffic. ``BROKEN_MODE=ping``: /ping never answers 200, as a model that serve
rejects at load time. ``BROKEN_MODE=exit``: the server exits before it listens, as a serve that
cannot start. It honours the same port variable as the real serve.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    mode = os.environ.get("BROKEN_MODE", "5xx")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    status = "500 Internal Server Error"
    if environ["PATH_INFO"] == "/ping":
        status = "503 Service Unavailable" if mode == "ping" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"broken on purpose\n"]


if __name__ == "__main__":
    if os.environ.get("BROKEN_MODE") == "exit":
        raise SystemExit("broken on purpose: exiting before listening")
    port = int(os.environ["SAGEMAKER_BIND_TO_PORT"])
    with make_server("127.0.0.1", port, app, server_class=_Threaded, handler_class=_Quiet) as server:
        server.serve_forever()
