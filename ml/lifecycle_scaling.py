"""The lifecycle's autoscaling stage: put load on the endpoint and show its fleet follow the target.

A few keep-alive clients send the sample rows until the autoscaler's desired count is reached (or a
bound passes), and every change of (current, desired) instances that ``describe`` shows is printed.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ml.backends.base import Backend
from ml.report import sample_request

CLIENTS = 4
BOUND_S = 30.0


def _counts(backend: Backend, endpoint: str) -> tuple[int, int]:
    served = [v for v in backend.describe_endpoint(endpoint_name=endpoint).variants if v.weight > 0]
    return (served[0].current_instance_count, served[0].desired_instance_count) if served else (0, 0)


def show_scaling(backend: Backend, *, endpoint: str, data: Path, most: int, emit: Callable[[str], None]) -> tuple[int, int]:
    """Load the endpoint with rows of ``data`` until it runs ``most`` instances (or BOUND_S passes); returns requests sent and failed."""
    body, _ = sample_request(data, rows=1)
    url = urlsplit(backend.describe_endpoint(endpoint_name=endpoint).url)
    stop = threading.Event()
    sent, failed = [0], [0]
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
        while not stop.is_set():
            try:
                conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
                answer = conn.getresponse()
                answer.read()
                ok = answer.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            with lock:
                sent[0] += 1
                failed[0] += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    seen = _counts(backend, endpoint)
    emit(f"    {CLIENTS} clients start; instances (current, desired): {seen}")
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + BOUND_S
    try:
        while time.monotonic() < deadline and seen != (most, most):
            time.sleep(0.2)
            now = _counts(backend, endpoint)
            if now != seen:
                emit(f"    instances (current, desired): {now}")
                seen = now
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    emit(f"    {sent[0]} requests, {failed[0]} failed, while the fleet grew")
    return sent[0], failed[0]
