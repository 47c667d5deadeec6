"""A WSGI app for the server-contract tests: requests that sleep, crash or name their worker.

Served by the real ``serve`` (``--app slow_app:app``) so the tests exercise the model server's
own behaviour: the request timeout, graceful shutdown and worker respawn.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ.get("PATH_INFO", "")
    if path == "/sleep":
        # The marker tells the test that the request is in flight before it acts.
        Path(query["marker"]).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(float(query["s"]))
        body = b"slept\n"
    else:
        body = f"{os.getpid()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
