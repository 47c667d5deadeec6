"""The lifecycle's autoscaling stage: put load on the endpoint and show its fleet follow the target.

A few keep-alive clients send the data set's rows, each in turn, until the autoscaler's desired count is reached (or a
bound passes), and every change of (current, desired) instances that ``describe`` shows is printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ml.backends.base import Backend
from ml.loadgen import KeepAliveClients
from ml.report import sample_request

CLIENTS = 4
BOUND_S = 30.0


def _counts(backend: Backend, endpoint: str) -> tuple[int, int]:
    served = [v for v in backend.describe_endpoint(endpoint_name=endpoint).variants if v.weight > 0]
    return (served[0].current_instance_count, served[0].desired_instance_count) if served else (0, 0)


def show_scaling(backend: Backend, *, endpoint: str, data: Path, most: int, emit: Callable[[str], None]) -> tuple[int, int]:
    """Load the endpoint with rows of ``data`` until it runs ``most`` instances (or BOUND_S passes); returns requests sent and failed."""
    # Every row of the data set in turn: load that looks like the traffic the model was trained for.
    body, _ = sample_request(data, rows=10**6)
    url = urlsplit(backend.describe_endpoint(endpoint_name=endpoint).url)
    seen = _counts(backend, endpoint)
    emit(f"    {CLIENTS} clients start; instances (current, desired): {seen}")
    deadline = time.monotonic() + BOUND_S
    rows = body.splitlines(keepends=True)
    with KeepAliveClients(host=url.hostname or "127.0.0.1", port=url.port or 80, body=rows, clients=CLIENTS) as load:
        while time.monotonic() < deadline and seen != (most, most):
            time.sleep(0.2)
            now = _counts(backend, endpoint)
            if now != seen:
                emit(f"    instances (current, desired): {now}")
                seen = now
    emit(f"    {load.ok + load.failed} requests, {load.failed} failed, while the fleet grew")
    return load.ok + load.failed, load.failed
