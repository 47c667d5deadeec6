"""Keep-alive clients that POST one body to an endpoint until stopped, counting what a user would see fail.

The lifecycle's autoscaling stage and the recovery benchmark both need load that keeps going
while something changes underneath; a request fails on a connection error or any status but 200.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Sequence


class KeepAliveClients:
    """``clients`` threads, one kept-alive connection each; use as a context manager.

    ``body`` is one request body, or several sent in turn (each client starts at its own offset),
    so that load can look like real traffic: a data set's rows rather than one row over and over.
    """

    def __init__(
        self, *, port: int, body: bytes | Sequence[bytes], clients: int = 1, pause_s: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self._bodies = [body] if isinstance(body, bytes) else list(body)
        if not self._bodies:
            raise ValueError("KeepAliveClients needs at least one request body")
        self._host, self._port, self._pause = host, port, pause_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]
        self.ok = 0
        self.failed = 0

    def _run(self, offset: int) -> None:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        bodies = itertools.islice(itertools.cycle(self._bodies), offset * len(self._bodies) // max(len(self._threads), 1), None)
        while not self._stop.is_set():
            try:
                conn.request("POST", "/invocations", body=next(bodies), headers={"Content-Type": "text/csv"})
                answer = conn.getresponse()
                answer.read()
                good = answer.status == 200
            except (OSError, http.client.HTTPException):
                good = False
                conn.close()  # the next request opens a fresh connection
            with self._lock:
                self.ok += good
                self.failed += not good
            if self._pause:
                self._stop.wait(self._pause)
        conn.close()

    def __enter__(self) -> KeepAliveClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
