"""The serving WSGI application: SageMaker's ``/ping``, ``/invocations`` and ``/execution-parameters``.

A plain WSGI callable rather than Flask: on the same server stack it measured faster (see
docs/container.md), and three routes need no framework. The handler contract is split as in
SageMaker's inference toolkit: load (once per worker, in :func:`create_app`), decode, predict,
encode. Request errors become 4xx answers with a short message; only a bug gives a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from byoc import artifact, codec
from byoc.algorithm import Predictor
from byoc.environment import Environment
from byoc.errors import ArtifactError, RequestError
from byoc.logs import configure

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable"}
_REASONS |= {413: "Content Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error", 503: "Service Unavailable"}
_ROUTES = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}


def _text(status: int, message: str, *headers: tuple[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "text/plain; charset=utf-8"), *headers], (message + "\n").encode()


def _discard(stream: Any, length: int, *, cap: int) -> None:
    """Read and drop a rejected body (up to ``cap``) so the client, still sending, can read the 413.

    Without this, a client that writes the whole body before reading sees a broken pipe instead
    of the answer. Beyond ``cap`` the connection is simply closed.
    """
    remaining = min(length, cap)
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            return
        remaining -= len(chunk)


class InferenceApp:
    """The WSGI callable. Holds the verified model, or the reason it could not be loaded."""

    def __init__(self, *, predictor: Predictor | None, unhealthy_reason: str | None, max_payload_bytes: int, workers: int) -> None:
        self._predictor = predictor
        self._unhealthy_reason = unhealthy_reason
        self._max_payload_bytes = max_payload_bytes
        self._execution_parameters = json.dumps(
            {"MaxConcurrentTransforms": workers, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": max(1, max_payload_bytes >> 20)}
        ).encode()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, headers, body = self._route(environ)
        except RequestError as err:
            status, headers, body = _text(err.status, str(err), *([("Connection", "close")] if err.status == 413 else []))
        except Exception:
            log.exception("unexpected error serving %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            status, headers, body = _text(500, "internal error; see the server log")
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS.get(status, '')}", headers)
        return [body]

    def _route(self, environ: Environ) -> tuple[int, list[tuple[str, str]], bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        allowed = _ROUTES.get(path)
        if allowed is None:
            return _text(404, f"no route {path[:80]!r}; use /ping, /invocations or /execution-parameters")
        if method != allowed and not (allowed == "GET" and method == "HEAD"):
            return _text(405, f"{path} accepts {allowed}", ("Allow", allowed))
        if path == "/execution-parameters":
            return 200, [("Content-Type", codec.JSON)], self._execution_parameters
        if self._predictor is None:
            return _text(503, f"unhealthy: {self._unhealthy_reason}")
        if path == "/ping":
            return _text(200, "healthy")
        return self._invoke(environ, self._predictor)

    def _read_body(self, environ: Environ) -> bytes:
        limit = self._max_payload_bytes
        length_header = environ.get("CONTENT_LENGTH") or ""
        too_large = RequestError(413, f"body is larger than {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                raise RequestError(400, "Content-Length is not a number") from None
            if length > limit:
                _discard(environ["wsgi.input"], length, cap=2 * limit)
                raise too_large
            return bytes(environ["wsgi.input"].read(length))
        # Chunked upload: read one byte past the limit to tell "exactly at" from "over".
        body = bytes(environ["wsgi.input"].read(limit + 1))
        if len(body) > limit:
            raise too_large
        return body

    def _invoke(self, environ: Environ, predictor: Predictor) -> tuple[int, list[tuple[str, str]], bytes]:
        content_type = codec.media_type(environ.get("CONTENT_TYPE"))
        if content_type not in codec.SUPPORTED:
            raise RequestError(415, f"unsupported content type {content_type or '(none)'!r}; send {codec.CSV} or {codec.JSON}")
        accept = codec.negotiate(environ.get("HTTP_ACCEPT"), content_type)
        body = self._read_body(environ)
        features = codec.decode(body, content_type, predictor.n_features)
        predictions = predictor.predict(features)
        return 200, [("Content-Type", accept)], codec.encode(predictions, accept)


def create_app(environment: Environment | None = None) -> InferenceApp:
    """Load and verify the model in ``model/`` and build the app; the server calls this once per worker.

    A bad artifact does not stop the server: it answers ``/ping`` with 503 and the reason, so
    SageMaker marks the endpoint unhealthy and the log says why.
    """
    env = environment or Environment.from_environ()
    configure(env.log_level)
    predictor: Predictor | None = None
    reason: str | None = None
    try:
        loaded = artifact.load(env.model_dir)
        predictor = loaded.predictor
        log.info("loaded %s from %s: %d features, classes %s", loaded.algorithm.name, env.model_dir, loaded.n_features, loaded.classes)
    except ArtifactError as err:
        reason = str(err)
        log.error("model refused, /ping will report unhealthy: %s", reason)
    return InferenceApp(predictor=predictor, unhealthy_reason=reason, max_payload_bytes=env.max_payload_bytes, workers=env.workers)
