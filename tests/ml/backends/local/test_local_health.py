"""The health checker counts failed /ping checks in a row: a good answer resets the count.

The checker runs as supervisord's event listener; here its tick is driven directly, against a
real HTTP server answering /ping as scripted and a real process standing for the instance (what
a replacement kills). supervisord's side is the one call the checker makes, getAllProcessInfo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ml.backends.local.supervise.health import FAILURES, START_GRACE_S, Checker, counted, starting, to_replace

PROGRAM = "v1-test"


def test_a_good_ping_resets_the_count() -> None:
    failures, seen = 0, []
    for ok in (False, True, False, False):
        failures = counted(failures, ok=ok)
        seen.append((failures, to_replace(failures)))
    assert seen == [(1, False), (0, False), (1, False), (2, False)]
    assert to_replace(counted(2, ok=False)) and FAILURES == 3


class _Ping(BaseHTTPRequestHandler):
    answers: list[int]

    def do_GET(self) -> None:
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Supervisord:
    """The instance as supervisord reports it: RUNNING, with the pid of a real process."""

    def __init__(self, pid: int) -> None:
        self.supervisor = self
        self.pid = pid

    def getAllProcessInfo(self) -> list[dict[str, Any]]:  # supervisord's XML-RPC name
        return [{"name": PROGRAM, "statename": "RUNNING", "pid": self.pid}]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[tuple[list[int], subprocess.Popen[bytes], Checker]]:
    answers: list[int] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Ping", (_Ping,), {"answers": answers}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "checks.json").write_text(json.dumps({PROGRAM: f"http://127.0.0.1:{server.server_address[1]}/ping"}))
    # A group leader, as supervisord starts each program: a replacement kills its whole group.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    yield answers, proc, Checker(tmp_path)
    proc.kill()
    proc.wait()
    server.shutdown()
    server.server_close()


def test_fail_succeed_fail_fail_does_not_replace_the_instance(instance: tuple[list[int], subprocess.Popen[bytes], Checker]) -> None:
    answers, proc, checker = instance
    rpc = _Supervisord(proc.pid)
    answers += [500, 200, 500, 500]
    for _ in range(4):
        checker.tick(rpc)
    assert proc.poll() is None, "replaced after 2 failures in a row: the good /ping between did not reset the count"
    assert checker.state["restarts"] == []
    assert checker.state["checks"][PROGRAM]["failures"] == 2
    answers.append(500)  # the third in a row
    checker.tick(rpc)
    assert proc.wait(timeout=10) == -9
    (restart,) = checker.state["restarts"]
    assert restart["program"] == PROGRAM and "failed 3 checks in a row" in restart["reason"]
    assert json.loads((checker.folder / "health.json").read_text())["restarts"] == [restart]


def test_an_instance_that_has_not_answered_since_it_started_is_starting_not_failing(
    instance: tuple[list[int], subprocess.Popen[bytes], Checker],
) -> None:
    answers, _, checker = instance
    url = json.loads((checker.folder / "checks.json").read_text())[PROGRAM]
    started = time.time()
    answers += [503, 200, 503]
    first = checker.check(url, started=started, before={})
    assert (first["failures"], first["detail"]) == (0, "starting: HTTP 503")
    second = checker.check(url, started=started, before=first)
    third = checker.check(url, started=started, before=second)  # it answered once: now a failure counts
    assert (second["failures"], third["failures"], third["detail"]) == (0, 1, "HTTP 503")
    answers.append(503)  # restarted by supervisord: a new start, a new grace
    assert checker.check(url, started=time.time(), before=third)["failures"] == 0
    assert starting(answered=False, uptime=START_GRACE_S - 1) and not starting(answered=False, uptime=START_GRACE_S)
    assert not starting(answered=True, uptime=0)
