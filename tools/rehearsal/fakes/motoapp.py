"""Calls into moto's own WSGI app from inside the front, without a network round trip.

The fakes need moto's store (does this endpoint config exist? put the model artifact) while
they answer a request; going through moto's public HTTP protocol keeps them off its internals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import quote

from moto.core.models import DEFAULT_ACCOUNT_ID
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

# moto's one account: every ARN and registry id in the fake AWS carries it.
ACCOUNT: str = DEFAULT_ACCOUNT_ID
WsgiApp = Any  # moto's DomainDispatcherApplication; werkzeug's WSGIApplication protocol

# Service name in the credential scope -> X-Amz-Target prefix of its JSON protocol.
JSON_TARGETS = {
    "sagemaker": "SageMaker",
    "ecr": "AmazonEC2ContainerRegistry_V20150921",
    "codecommit": "CodeCommit_20150413",
    "codebuild": "CodeBuild_20161006",
    "logs": "Logs_20140328",
}


def authorization(service: str, region: str) -> str:
    """A SigV4 header moto accepts: it routes by the scope's service name and checks no signature."""
    return f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body or b"{}")
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object from moto, got {self.body[:80]!r}")
        return data

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call_app(app: WsgiApp, environ: Mapping[str, Any]) -> Reply:
    body_iter, status, headers = run_wsgi_app(app, dict(environ), buffered=True)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return Reply(status=int(status.split()[0]), headers=[(k, v) for k, v in headers.items()], body=body)


class MotoApp:
    """moto's server app plus typed helpers for the few calls the fakes make."""

    def __init__(self, *, app: WsgiApp, region: str) -> None:
        self.app, self.region = app, region

    def json_call(self, service: str, operation: str, request: Mapping[str, Any]) -> Reply:
        builder = EnvironBuilder(
            method="POST",
            path="/",
            headers=Headers(
                [
                    ("X-Amz-Target", f"{JSON_TARGETS[service]}.{operation}"),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Authorization", authorization(service, self.region)),
                    ("Host", f"{service}.{self.region}.amazonaws.com"),
                ]
            ),
            data=json.dumps(dict(request)),
        )
        try:
            return call_app(self.app, builder.get_environ())
        finally:
            builder.close()

    def put_object(self, *, bucket: str, key: str, body: bytes, content_type: str = "application/octet-stream") -> Reply:
        builder = EnvironBuilder(
            method="PUT",
            path=f"/{bucket}/{key}",
            headers=Headers(
                [("Authorization", authorization("s3", self.region)), ("Host", "s3.amazonaws.com"), ("Content-Type", content_type)]
            ),
            data=body,
        )
        try:
            return call_app(self.app, builder.get_environ())
        finally:
            builder.close()

    def get_object(self, *, bucket: str, key: str) -> bytes:
        """An object's bytes; a clear error when moto has none under that key."""
        reply = self._s3("GET", f"/{bucket}/{quote(key)}")
        if not reply.ok:
            raise RuntimeError(f"the fake could not read s3://{bucket}/{key}: {reply.body[:200]!r}")
        return reply.body

    def list_keys(self, *, bucket: str, prefix: str) -> list[str]:
        """Keys under ``prefix`` (one ListObjectsV2 page: the fakes' buckets hold a handful)."""
        reply = self._s3("GET", f"/{bucket}", query=f"list-type=2&prefix={quote(prefix)}")
        if not reply.ok:
            raise RuntimeError(f"the fake could not list s3://{bucket}/{prefix}: {reply.body[:200]!r}")
        return [unescape(k) for k in re.findall(r"<Key>(.*?)</Key>", reply.body.decode())]

    def _s3(self, method: str, path: str, *, query: str = "") -> Reply:
        builder = EnvironBuilder(
            method=method,
            path=path,
            query_string=query,
            headers=Headers([("Authorization", authorization("s3", self.region)), ("Host", "s3.amazonaws.com")]),
        )
        try:
            return call_app(self.app, builder.get_environ())
        finally:
            builder.close()


def error_reply(*, status: int, code: str, message: str) -> Reply:
    """An AWS JSON-protocol error, as botocore parses it (``__type`` and ``message``)."""
    body = json.dumps({"__type": code, "message": message}).encode("utf-8")
    return Reply(status=status, headers=[("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)], body=body)


def json_reply(data: Mapping[str, Any], *, status: int = 200) -> Reply:
    return Reply(status=status, headers=[("Content-Type", "application/x-amz-json-1.1")], body=json.dumps(dict(data), default=str).encode())


def strip_length(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-length"]
