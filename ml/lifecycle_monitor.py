"""The lifecycle's monitor stages: the captured traffic judged honestly, then a drift shown on purpose.

The endpoint's traffic in the main job is the data set itself: the test rows, the autoscaling
load (every row in turn) and one replay of every row as its own request, so the monitor finds it
like the training data and says OK. Then, announced as a demonstration and not real traffic, the
same rows with every measurement scaled up are sent, and the monitor, over just that window,
shows what a BREACH looks like.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ml.backends.base import Backend
from ml.config import ProjectConfig
from ml.errors import JobFailedError
from ml.monitor.project import MonitorOutcome, local_capture_root, run_project_monitor
from ml.monitor.window import Window, window_from
from ml.report import sample_request

DRIFT_FACTOR = 1.6  # every measurement 60% larger: most values leave the training range


def data_rows(data: Path) -> list[bytes]:
    """Every row of the labelled data set as its own request body (features only)."""
    body, _ = sample_request(data, rows=10**6)
    return body.splitlines(keepends=True)


def drifted(rows: Sequence[bytes], factor: float = DRIFT_FACTOR) -> list[bytes]:
    return [(",".join(f"{float(v) * factor:.2f}" for v in row.decode().strip().split(",")) + "\n").encode() for row in rows]


def send(backend: Backend, *, endpoint: str, bodies: Sequence[bytes]) -> None:
    """One request per body on one kept-alive connection; any answer but 200 stops the demo."""
    url = urlsplit(backend.describe_endpoint(endpoint_name=endpoint).url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    try:
        for body in bodies:
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            answer = conn.getresponse()
            text = answer.read()
            if answer.status != 200:
                raise JobFailedError(f"endpoint {endpoint} answered {answer.status}: {text[:200]!r}")
    finally:
        conn.close()


def _show(outcome: MonitorOutcome, emit: Callable[[str], None]) -> None:
    for line in outcome.table.splitlines():
        emit(f"    {line}")


def monitor_traffic(backend: Backend, *, config: ProjectConfig, root: Path, endpoint: str, data: Path, emit: Callable[[str], None]) -> Path:
    """Replay the data set, then ``invoke monitor`` over the last hour: each version against its own baseline."""
    send(backend, endpoint=endpoint, bodies=data_rows(data))
    outcome = run_project_monitor(
        config=config, root=root, backend="local", endpoint=endpoint, window=window_from(hours=1, default_hours=config.monitor_window_hours)
    )
    captured = local_capture_root(config, root) / endpoint
    emit(f"    captured traffic (SageMaker's JSON Lines, {config.capture_sampling_percent}% sampled): {captured}")
    _show(outcome, emit)
    emit(f"    monitor: {outcome.report.verdict}" + (": " + "; ".join(outcome.report.breaches) if outcome.breached else ""))
    return outcome.html


def drift_demo(backend: Backend, *, config: ProjectConfig, root: Path, endpoint: str, data: Path, emit: Callable[[str], None]) -> Path:
    """Announce, send the data set scaled by DRIFT_FACTOR, and monitor just that window: a BREACH, shown not raised."""
    emit(
        f"    DEMONSTRATION, not real traffic: the data set again with every measurement x{DRIFT_FACTOR:g}, "
        "to show what the monitor says when inputs drift"
    )
    # Capture times are whole seconds: start on a fresh one so the window holds the drifted rows only.
    time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)
    since = datetime.now(UTC).replace(microsecond=0)
    send(backend, endpoint=endpoint, bodies=drifted(data_rows(data)))
    time.sleep(1.0)  # the router logs a record after its answer has gone
    window = Window(since=since, until=datetime.now(UTC))
    outcome = run_project_monitor(config=config, root=root, backend="local", endpoint=endpoint, window=window)
    _show(outcome, emit)
    emit(f"    drift demo: monitor says {outcome.report.verdict} ({len(outcome.report.breaches)} thresholds), as intended")
    return outcome.html
