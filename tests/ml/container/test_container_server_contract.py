"""The model server's side of the serving contract, with real processes: a stuck request is cut
off at MODEL_SERVER_TIMEOUT and the worker comes back, SIGTERM lets a request in flight finish,
and a crashed worker is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from container_helpers import SERVE, Response, Server, program_env, request, stop, wait_until_listening

from ml.backends.local.procs import free_port

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=[60])
def slow_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """``serve`` with one worker running :mod:`slow_app`; MODEL_SERVER_TIMEOUT is the fixture's param."""
    port = free_port()
    env = program_env(
        tmp_path,
        SAGEMAKER_BIND_TO_PORT=str(port),
        BYOC_BIND_HOST="127.0.0.1",
        MODEL_SERVER_WORKERS="1",
        MODEL_SERVER_TIMEOUT=str(request.param),
        PYTHONPATH=os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p),
        BYOC_WSGI_APP="slow_app:app",  # serve's own server and watchdog, around an app of the test's
    )
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen([str(SERVE)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(url, process)
        yield Server(url, process)
    finally:
        stop(process)


def _worker_pid(server: Server) -> int:
    return int(request(f"{server.url}/pid").body)


def _wait_for(marker: Path) -> None:
    while not marker.exists():
        time.sleep(0.05)


def _next_worker_pid(server: Server, old: int) -> int:
    """Poll until a worker other than ``old`` answers (connection errors while none is up)."""
    while True:
        try:
            pid = _worker_pid(server)
        except OSError:
            pid = old
        if pid != old:
            return pid
        time.sleep(0.1)


pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("slow_server", [2], indirect=True)
def test_stuck_request_is_cut_off_at_the_timeout_and_the_worker_recovers(slow_server: Server, tmp_path: Path) -> None:
    before = _worker_pid(slow_server)
    marker = tmp_path / "in-flight"
    # Sleeps far past the 2 s timeout and past urllib's 30 s: only the server can end it in time.
    with pytest.raises(ConnectionError) as cut:
        request(f"{slow_server.url}/sleep?s=600&marker={marker}")
    assert not isinstance(cut.value, TimeoutError)
    after = _next_worker_pid(slow_server, before)
    assert after != before
    assert slow_server.alive()
    log = (tmp_path / "serve.log").read_text()
    assert "ran past MODEL_SERVER_TIMEOUT=2s" in log


def test_sigterm_finishes_the_request_in_flight_then_exits(slow_server: Server, tmp_path: Path) -> None:
    marker = tmp_path / "in-flight"
    answers: list[Response] = []
    client = threading.Thread(target=lambda: answers.append(request(f"{slow_server.url}/sleep?s=2&marker={marker}")))
    client.start()
    _wait_for(marker)
    os.kill(slow_server.process.pid, signal.SIGTERM)
    client.join(timeout=60)
    assert [(a.status, a.body) for a in answers] == [(200, b"slept\n")]
    assert slow_server.process.wait(timeout=60) == 0


def test_crashed_worker_is_replaced(slow_server: Server) -> None:
    before = _worker_pid(slow_server)
    os.kill(before, signal.SIGKILL)
    after = _next_worker_pid(slow_server, before)
    assert after != before
    assert slow_server.alive()
