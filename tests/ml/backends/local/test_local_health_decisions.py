"""The endpoint's health checker, driven as supervisord drives it: ticks and process events, real /ping
servers and a real process to replace; what it decides is read back from its health.json."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from ml.backends.local.procs import free_port
from ml.backends.local.supervise import health

PROGRAM = "v1-20261128-052000-001-0"


class _Ping(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200

    def do_GET(self) -> None:
        self.send_response(_Ping.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def ping_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Ping.status = 200
    yield f"http://127.0.0.1:{server.server_address[1]}/ping"
    server.shutdown()
    server.server_close()


@pytest.fixture
def instance() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own group, as supervisord starts a model server."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def _rpc(programs: dict[str, tuple[str, int]]) -> Any:
    infos = [{"name": n, "statename": state, "pid": pid} for n, (state, pid) in programs.items()]
    return SimpleNamespace(supervisor=SimpleNamespace(getAllProcessInfo=lambda: infos))


def _checker(folder: Path, urls: dict[str, str]) -> health.Checker:
    (folder / "checks.json").write_text(json.dumps(urls), encoding="utf-8")
    return health.Checker(folder)


def _recorded(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "health.json").read_text(encoding="utf-8")))


def _tick(checker: health.Checker, instance: subprocess.Popen[bytes], *, status: int) -> dict[str, Any]:
    _Ping.status = status
    checker.tick(_rpc({PROGRAM: ("RUNNING", instance.pid)}))
    return _recorded(checker.folder)["checks"][PROGRAM]


def test_three_failed_pings_in_a_row_replace_the_instance(tmp_path: Path, ping_url: str, instance: subprocess.Popen[bytes]) -> None:
    checker = _checker(tmp_path, {PROGRAM: ping_url})
    assert [_tick(checker, instance, status=500)["failures"] for _ in range(2)] == [1, 2]
    assert instance.poll() is None and _recorded(tmp_path)["restarts"] == []
    last = _tick(checker, instance, status=500)
    assert instance.wait(timeout=10) == -signal.SIGKILL  # the whole group, killed like a discarded instance
    assert (last["ok"], last["detail"], last["failures"], last["url"]) == (False, "HTTP 500", 0, ping_url)
    (restart,) = _recorded(tmp_path)["restarts"]
    assert (restart["program"], restart["reason"]) == (PROGRAM, "/ping failed 3 checks in a row (HTTP 500); replaced")
    # Its death is this replacement, already recorded: the exit event adds nothing.
    checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, f"processname:{PROGRAM} expected:0 pid:{instance.pid}")
    assert len(_recorded(tmp_path)["restarts"]) == 1
    checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, f"processname:{PROGRAM} expected:0 pid:{instance.pid}")
    assert len(_recorded(tmp_path)["restarts"]) == 2  # the next unexpected exit is one again


def test_a_good_ping_resets_the_count(tmp_path: Path, ping_url: str, instance: subprocess.Popen[bytes]) -> None:
    """Fails, succeeds, then fails twice: a blip is not a hang, the instance stays."""
    checker = _checker(tmp_path, {PROGRAM: ping_url})
    seen = [_tick(checker, instance, status=s)["failures"] for s in (500, 200, 500, 500)]
    assert seen == [1, 0, 1, 2]
    assert instance.poll() is None and _recorded(tmp_path)["restarts"] == []
    ok = _tick(checker, instance, status=200)
    assert (ok["ok"], ok["detail"], ok["failures"]) == (True, "HTTP 200", 0)


def test_only_running_programs_are_pinged_and_forgotten_ones_are_dropped(tmp_path: Path, ping_url: str) -> None:
    checker = _checker(tmp_path, {PROGRAM: ping_url, "starting": ping_url})
    checker.tick(_rpc({PROGRAM: ("RUNNING", 1), "starting": ("STARTING", 2)}))
    assert set(_recorded(tmp_path)["checks"]) == {PROGRAM}  # supervisord is still starting the other
    (tmp_path / "checks.json").write_text("{}", encoding="utf-8")  # the variant was retired
    checker.tick(_rpc({PROGRAM: ("RUNNING", 1)}))
    assert _recorded(tmp_path)["checks"] == {}


def test_an_unreachable_server_fails_with_the_reason(tmp_path: Path, instance: subprocess.Popen[bytes]) -> None:
    checker = _checker(tmp_path, {PROGRAM: f"http://127.0.0.1:{free_port()}/ping"})
    check = _tick(checker, instance, status=200)
    assert (check["ok"], check["failures"]) == (False, 1) and "refused" in check["detail"].lower()


def test_deaths_supervisord_saw_are_recorded_and_the_list_is_bounded(tmp_path: Path) -> None:
    checker = _checker(tmp_path, {})
    checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, "processname:v1-0 expected:0 pid:41")
    checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, "processname:v1-0 expected:1 pid:42")  # a stop we asked for
    checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, "processname:health expected:0 pid:43")  # the checker itself
    checker.state_change({"eventname": "PROCESS_STATE_FATAL"}, "processname:v2-0 pid:44")
    reasons = [(r["program"], r["reason"]) for r in _recorded(tmp_path)["restarts"]]
    assert reasons == [
        ("v1-0", "exited unexpectedly (pid 41); restarted by supervisord"),
        ("v2-0", "kept dying at start; supervisord gave up (FATAL)"),
    ]
    for pid in range(health.KEEP_RESTARTS + 5):
        checker.state_change({"eventname": "PROCESS_STATE_EXITED"}, f"processname:v1-0 expected:0 pid:{pid}")
    kept = _recorded(tmp_path)["restarts"]
    assert len(kept) == health.KEEP_RESTARTS and kept[-1]["reason"].startswith(f"exited unexpectedly (pid {health.KEEP_RESTARTS + 4})")


def test_a_fresh_or_unreadable_record_starts_empty(tmp_path: Path) -> None:
    assert health.Checker(tmp_path).state == {"checks": {}, "restarts": []}
    (tmp_path / "health.json").write_text("{half", encoding="utf-8")
    assert health.Checker(tmp_path).state == {"checks": {}, "restarts": []}
    assert health.Checker(tmp_path).urls() == {}  # no checks.json yet


@pytest.mark.usefixtures("away_from_utc")
def test_times_are_utc_whatever_the_machines_zone(tmp_path: Path, ping_url: str, instance: subprocess.Popen[bytes]) -> None:
    checker = _checker(tmp_path, {PROGRAM: ping_url})
    before = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
    check = _tick(checker, instance, status=200)
    checker.state_change({"eventname": "PROCESS_STATE_FATAL"}, "processname:v2-0 pid:44")
    (restart,) = _recorded(tmp_path)["restarts"]
    for stamp in (check["time"], restart["time"]):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", stamp) and stamp[:16] in (
            before,
            time.strftime("%Y-%m-%dT%H:%M", time.gmtime()),
        )


def test_a_programs_not_running_yet_does_not_stop_the_others_being_checked(tmp_path: Path, ping_url: str) -> None:
    checker = _checker(tmp_path, {"starting": ping_url, PROGRAM: ping_url})  # the one not running comes first
    checker.tick(_rpc({"starting": ("STARTING", 2), PROGRAM: ("RUNNING", 1)}))
    assert set(_recorded(tmp_path)["checks"]) == {PROGRAM}


def test_replacing_an_instance_that_already_died_is_no_error(tmp_path: Path, ping_url: str) -> None:
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    checker = _checker(tmp_path, {PROGRAM: ping_url})
    _Ping.status = 503
    for _ in range(3):
        checker.tick(_rpc({PROGRAM: ("RUNNING", gone.pid)}))
    assert [r["reason"] for r in _recorded(tmp_path)["restarts"]] == ["/ping failed 3 checks in a row (HTTP 503); replaced"]


class _Hung(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(2)  # longer than the ping's time limit below

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_that_does_not_answer_in_time_fails_its_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "PING_TIMEOUT_S", 0.2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hung)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        assert health.ping(f"http://127.0.0.1:{server.server_address[1]}/ping") == (False, "timed out")
        assert time.monotonic() - started < 1.5
    finally:
        server.shutdown()
        server.server_close()
    assert health.ping(f"http://127.0.0.1:{free_port()}/ping") == (False, "[Errno 111] Connection refused")


def test_the_listener_answers_supervisords_events(tmp_path: Path, ping_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """main() speaks supervisord's event listener protocol: READY, one event, RESULT OK; a tick checks, an event records."""
    (tmp_path / "checks.json").write_text(json.dumps({PROGRAM: ping_url}), encoding="utf-8")
    events = [("TICK_5", "when:1"), ("PROCESS_STATE_EXITED", f"processname:{PROGRAM} expected:0 pid:7"), ("PROCESS_LOG_STDOUT", "x")]
    stdin = "".join(
        f"ver:3.0 server:supervisor serial:{i} pool:health poolserial:{i} eventname:{name} len:{len(body)}\n{body}"
        for i, (name, body) in enumerate(events)
    )
    out = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["health.py", str(tmp_path)])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    rpc = _rpc({PROGRAM: ("RUNNING", 1)})
    monkeypatch.setattr(health.childutils, "getRPCInterface", lambda env: rpc if env is os.environ else None)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the listener ends when supervisord closes its stdin
        health.main()
    assert out.getvalue().startswith("READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n")
    recorded = _recorded(tmp_path)
    assert recorded["checks"][PROGRAM]["ok"] is True
    assert [r["reason"] for r in recorded["restarts"]] == ["exited unexpectedly (pid 7); restarted by supervisord"]


def test_a_failing_check_is_logged_and_the_listener_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("supervisord is restarting")

    stdin = "".join(f"ver:3.0 server:supervisor serial:{i} pool:health poolserial:{i} eventname:TICK_5 len:0\n" for i in range(2))
    out = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["health.py", str(tmp_path)])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(
        health.childutils, "getRPCInterface", lambda env: SimpleNamespace(supervisor=SimpleNamespace(getAllProcessInfo=broken))
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - stdin closed
        health.main()
    assert out.getvalue().startswith("READY\nRESULT 2\nOKREADY\nRESULT 2\nOK")  # each event answered all the same
    assert capsys.readouterr().err.splitlines()[:2] == ["health: RuntimeError('supervisord is restarting')"] * 2
