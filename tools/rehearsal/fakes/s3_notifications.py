"""S3 bucket notification configurations: what moto 5.2 drops from the answer.

moto stores ``EventBridgeConfiguration`` from PutBucketNotificationConfiguration but leaves it
out of GetBucketNotificationConfiguration, so the provider read every bucket's ``eventbridge``
as false and planned to change it on every run. The S3 API reference's
GetBucketNotificationConfiguration returns it: "EventBridgeConfiguration: Enables delivery of
events to Amazon EventBridge." Here the front notes which buckets were put with it (S3 is REST,
so by method, path and the ``notification`` query) and adds the element to moto's answer.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any
from urllib.parse import parse_qs

ELEMENT = b"<EventBridgeConfiguration></EventBridgeConfiguration>"


class NotificationCorrections:
    def __init__(self) -> None:
        self._eventbridge: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def bucket_of(environ: dict[str, Any]) -> str | None:
        """The bucket of a path-style ``/<bucket>?notification`` request, else ``None``."""
        if "notification" not in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            return None
        match = re.fullmatch(r"/([^/]+)/?", environ.get("PATH_INFO", ""))
        return match.group(1) if match else None

    def before(self, environ: dict[str, Any]) -> None:
        """On a put, remember whether EventBridge is on (the body is put back for moto)."""
        bucket = self.bucket_of(environ)
        if bucket is None or environ.get("REQUEST_METHOD") != "PUT":
            return
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = environ["wsgi.input"].read(int(length))
        elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream itself
            body = environ["wsgi.input"].read()
        else:
            return  # a body this cannot measure is left for moto untouched
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        with self._lock:
            (self._eventbridge.add if b"EventBridgeConfiguration" in body else self._eventbridge.discard)(bucket)

    def after(self, environ: dict[str, Any], body: bytes) -> bytes:
        """On a get, add the element moto leaves out."""
        bucket = self.bucket_of(environ)
        if bucket is None or environ.get("REQUEST_METHOD") != "GET" or bucket not in self._eventbridge or ELEMENT in body:
            return body
        if b"</NotificationConfiguration>" in body:
            return body.replace(b"</NotificationConfiguration>", ELEMENT + b"</NotificationConfiguration>")
        # An empty configuration is a self-closing element, with or without its namespace.
        filled = rb"<NotificationConfiguration\1>" + ELEMENT + rb"</NotificationConfiguration>"
        return re.sub(rb"<NotificationConfiguration([^>]*)/>", filled, body)
