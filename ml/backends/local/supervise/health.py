"""The endpoint's health checker: a supervisord event listener that polls each variant's /ping.

SageMaker replaces an instance whose ``/ping`` fails; here a variant whose ``/ping`` fails
``FAILURES`` checks in a row (a hung server: supervisord only sees deaths) is restarted through
supervisord's own API, on the same port, so the router's weights stay valid. Every check and
every restart (a death supervisord saw, or a failed /ping) is recorded in ``health.json`` in the
endpoint's supervisor folder, written atomically, which is what ``describe`` reads.

Why our own listener and not superlance's ``httpok``: httpok checks one URL per listener and
keeps no record of its results; we need one listener for every variant of the endpoint (they come
and go with updates: the list is re-read from ``checks.json`` on each tick) and the record.
Run as a script by path: ``python health.py FOLDER``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from supervisor import childutils

FAILURES = 3  # checks (5 s apart) a variant may fail before it is replaced
# An instance that has not answered /ping since it (re)started is starting, not failing, for this
# long: supervisord calls it RUNNING after 1 s, and a serve under load may bind its port seconds
# later (SageMaker health-checks an instance once it is in service). After it a failure counts,
# so an instance hung at start is still replaced, about 30 s after it started.
START_GRACE_S = 15.0
PING_TIMEOUT_S = 2.0
KEEP_RESTARTS = 20


def counted(failures: int, *, ok: bool) -> int:
    """Failed checks in a row after this one: a good /ping resets the count (a blip is not a hang)."""
    return 0 if ok else failures + 1


def to_replace(failures: int) -> bool:
    """Whether an instance that failed ``failures`` checks in a row is replaced now."""
    return failures >= FAILURES


def starting(*, answered: bool, uptime: float) -> bool:
    """Whether a failed /ping is an instance still starting (not yet answered since its start, within the grace)."""
    return not answered and uptime < START_GRACE_S


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def ping(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=PING_TIMEOUT_S) as answer:  # noqa: S310 - loopback URL we wrote
            return answer.status == 200, f"HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return False, str(getattr(err, "reason", err))


class Checker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "health.json"
        try:
            self.state: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.state = {"checks": {}, "restarts": []}
        self.replacing: set[str] = set()

    def save(self) -> None:
        tmp = self.path.with_name(f".health.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def restarted(self, program: str, reason: str) -> None:
        self.state["restarts"] = [*self.state["restarts"], {"program": program, "time": now(), "reason": reason}][-KEEP_RESTARTS:]

    def urls(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.folder / "checks.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def tick(self, rpc: Any) -> None:
        running = {p["name"]: p for p in rpc.supervisor.getAllProcessInfo()}
        checks = self.state["checks"]
        for program, url in self.urls().items():
            info = running.get(program)
            if info is None or info["statename"] != "RUNNING":
                continue  # supervisord is (re)starting it; its deaths are recorded from the events
            checks[program] = self.check(url, started=float(info.get("start") or 0), before=checks.get(program, {}))
            failures = checks[program]["failures"]
            if to_replace(failures):
                self.restarted(program, f"/ping failed {failures} checks in a row ({checks[program]['detail']}); replaced")
                checks[program]["failures"] = 0
                # A server that does not answer /ping will not drain gracefully either: kill its
                # whole process group (supervisord made it a group leader) as SageMaker discards
                # an instance; supervisord sees the death and starts a fresh one on the same port.
                self.replacing.add(program)  # its death is this replacement, already recorded
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(info["pid"]), signal.SIGKILL)
        for gone in set(checks) - set(self.urls()):
            del checks[gone]
        self.save()

    @staticmethod
    def check(url: str, *, started: float, before: dict[str, Any]) -> dict[str, Any]:
        """One /ping of an instance that supervisord started at ``started``, after the check ``before``."""
        ok, detail = ping(url)
        answered = ok or (bool(before.get("answered")) and before.get("started") == started)
        at = time.time()
        if not ok and starting(answered=answered, uptime=at - started):
            failures, detail = 0, f"starting: {detail}"
        else:
            failures = counted(before.get("failures", 0), ok=ok)
        return {
            "time": now(),
            "at": at,
            "ok": ok,
            "detail": detail,
            "url": url,
            "failures": failures,
            "started": started,
            "answered": answered,
        }

    def state_change(self, headers: dict[str, str], payload: str) -> None:
        body, _data = childutils.eventdata(payload + "\n")
        name = body.get("processname", "")
        if name == "health":
            return
        event = headers["eventname"]
        if event == "PROCESS_STATE_EXITED" and name in self.replacing:
            self.replacing.discard(name)
        elif event == "PROCESS_STATE_EXITED" and body.get("expected") == "0":
            self.restarted(name, f"exited unexpectedly (pid {body.get('pid')}); restarted by supervisord")
            self.save()
        elif event == "PROCESS_STATE_FATAL":
            self.restarted(name, "kept dying at start; supervisord gave up (FATAL)")
            self.save()


def main() -> None:
    checker = Checker(Path(sys.argv[1]))
    rpc = childutils.getRPCInterface(os.environ)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            if headers["eventname"].startswith("TICK"):
                checker.tick(rpc)
            elif headers["eventname"].startswith("PROCESS_STATE"):
                checker.state_change(headers, payload)
        except Exception as err:
            print(f"health: {err!r}", file=sys.stderr, flush=True)
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
