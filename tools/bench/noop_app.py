"""The ceiling for the serving benchmark: a WSGI app that reads the body and answers at once.

Run on the same gunicorn command line as ``serve``, it measures what the server stack alone
costs, so ``serve``'s numbers can be read as a fraction of the best possible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "2")])
    return [b"0\n"]
