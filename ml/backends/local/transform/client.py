"""The transform's HTTP client: one keep-alive connection per worker thread to serve's /invocations."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    body: bytes


class InvocationsClient:
    """``port`` may be a callable, asked on the first request of each thread: the transform starts
    reading and filtering its input while the model server is still starting, and its requests
    wait for the server there (the callable blocks until it is healthy, or raises why not)."""

    def __init__(self, *, port: int | Callable[[], int], timeout: float = 120.0) -> None:
        self._port = port
        self._timeout = timeout
        self._local = threading.local()
        # Every thread's connection, so close() can end them all: the model server keeps them
        # alive, and a connection left to the garbage collector is a leaked socket.
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def __enter__(self) -> InvocationsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            port = self._port() if callable(self._port) else self._port
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def post(self, body: bytes) -> Answer:
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", "/invocations", body=body, headers=headers)
                answer = conn.getresponse()
                return Answer(status=answer.status, body=answer.read())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed a kept-alive connection between requests; one fresh try is safe
                # because a request that never reached the model has no effect to repeat.
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
