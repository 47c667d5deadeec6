"""Start, update, read and stop one endpoint's supervisord over its unix socket (XML-RPC).

Why supervisord (supervisor==4.3.0 from PyPI, pinned in the Pipfile): it runs unprivileged, one
instance per endpoint with its own config and socket, restarts what dies, kills by process group,
publishes state over an API we can read for ``describe``, and has event listeners for the /ping
checks. Debian's package is the same program but wants root and one system-wide instance; systemd
--user is not running in this container (nor in many CI runners); s6 is not installed; and a
supervisor of our own is what the issue asked us not to write.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import time
import xmlrpc.client
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_text
from ml.backends.local import procs
from ml.backends.local.records import ProcessRecord, ProcessState, Program, Toolchain
from ml.backends.local.supervise.config import HEALTH_PROGRAM, STARTSECS, STOPWAITSECS, render
from ml.errors import StateError

START_TIMEOUT_S = 30.0
# Where the control sockets live: a fixed folder of this user's (mode 0700), not under $TMPDIR, so
# a command run from a shell with another TMPDIR finds the endpoint's supervisord; a unix socket's
# path must fit 107 bytes, which an endpoint's own folder may not.
SOCKET_ROOT = Path("/tmp")  # noqa: S108 - fixed on purpose; the sockets go in a private folder below it


class Supervisor:
    def __init__(self, *, folder: Path) -> None:
        self.folder = folder

    @property
    def conf(self) -> Path:
        return self.folder / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return socket_path(self.folder)

    def _rpc(self) -> Any:
        # Use as ``with self._rpc() as rpc``: the socket closes at the end (supervisor's own
        # transport leaves it to the garbage collector, a ResourceWarning).
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=_UnixTransport(self.socket))

    def alive(self) -> bool:
        try:
            with self._rpc() as rpc:
                return bool(rpc.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, http.client.HTTPException, xmlrpc.client.Error):
            return False

    def write(self, programs: Sequence[Program], *, toolchain: Toolchain) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(mode=0o700, exist_ok=True)
        atomic_write_text(self.conf, render(folder=self.folder, socket=self.socket, programs=programs, python=toolchain.python))
        checks = {p.name: p.health_url for p in programs if p.health_url}
        atomic_write_text(self.folder / "checks.json", json.dumps(checks, indent=1))

    def start(self, programs: Sequence[Program], *, toolchain: Toolchain) -> ProcessRecord:
        """Start supervisord in the foreground of its own session; return its process record.

        It runs with the toolchain's environment, which its programs inherit: nothing of the caller's.
        """
        self.write(programs, toolchain=toolchain)
        argv = [toolchain.python, "-m", "supervisor.supervisord", "-n", "-c", str(self.conf)]
        record = procs.spawn(argv, env=toolchain.env(), log=self.folder / "supervisord.out", cwd=self.folder)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.alive():
            if not procs.is_ours(record) or time.monotonic() > deadline:
                procs.stop(record)
                raise StateError(f"supervisord did not start; last lines of its log:\n{procs.tail(self.folder / 'supervisord.out')}")
            time.sleep(0.05)
        return record

    @contextlib.contextmanager
    def running(self, programs: Sequence[Program], *, toolchain: Toolchain) -> Iterator[ProcessRecord]:
        """Run ``programs`` under this supervisord for the block's duration (a router alone, in benchmarks and tests)."""
        record = self.start(programs, toolchain=toolchain)
        try:
            yield record
        finally:
            self.shutdown(record)

    def update(self, programs: Sequence[Program], *, toolchain: Toolchain, keep: Collection[str] = ()) -> None:
        """Rewrite the config and apply it: new programs start, removed ones stop (supervisorctl update).

        A program in ``keep`` (the router) is never stopped or restarted here, even if its
        definition changed: an update or a scaling step must not drop the endpoint's connections.
        """
        self.write(programs, toolchain=toolchain)
        with self._rpc() as rpc:
            [[added, changed, removed]] = rpc.supervisor.reloadConfig()
            changed = [name for name in changed if name not in keep]
            going = [name for name in [*removed, *changed] if name != HEALTH_PROGRAM]
            # Told to stop together, then waited for together: one at a time with wait=True costs a
            # supervisord loop turn (about a second) each.
            for name in going:
                rpc.supervisor.stopProcessGroup(name, False)
            deadline = time.monotonic() + STOPWAITSECS + 5
            while going and time.monotonic() < deadline:
                alive = {
                    i["group"]
                    for i in rpc.supervisor.getAllProcessInfo()
                    if i["statename"] in ("RUNNING", "STARTING", "STOPPING", "BACKOFF")
                }
                if not alive & set(going):
                    break
                time.sleep(0.02)
            for name in going:
                rpc.supervisor.removeProcessGroup(name)
            for name in [*added, *changed]:
                if name != HEALTH_PROGRAM:
                    rpc.supervisor.addProcessGroup(name)

    def states(self) -> dict[str, ProcessState]:
        with self._rpc() as rpc:
            infos = rpc.supervisor.getAllProcessInfo()
        return {
            i["name"]: ProcessState(
                name=i["name"],
                state=i["statename"],
                pid=int(i["pid"]),
                started=float(i["start"]) if i["statename"] == "RUNNING" else 0.0,
                detail=i["description"],
            )
            for i in infos
        }

    def wait_running(self, names: Sequence[str], *, timeout: float = STARTSECS + 10.0) -> None:
        """Return once supervisord counts every program in ``names`` as started (up STARTSECS).

        A program that answers its health check is still STARTING for its first second; waiting
        here means a verb returns with the endpoint in a state ``describe`` calls settled.
        """
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            waiting = {n: states[n].state if n in states else "GONE" for n in names if n not in states or states[n].state != "RUNNING"}
            if not waiting:
                return
            failed = {n: s for n, s in waiting.items() if s not in ("STARTING", "BACKOFF")}
            if failed or time.monotonic() > deadline:
                raise StateError(
                    "supervisord did not keep these programs running: "
                    + ", ".join(f"{n} ({s})" for n, s in sorted(waiting.items()))
                    + f"; see the logs under {self.folder}"
                )
            time.sleep(0.05)

    def restart(self, name: str) -> None:
        with self._rpc() as rpc:
            rpc.supervisor.stopProcess(name, True)
            rpc.supervisor.startProcess(name, True)

    def health(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / "health.json").read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def shutdown(self, record: ProcessRecord | None, *, grace: float = 15.0) -> None:
        """Stop every program (by process group) and supervisord itself.

        All programs are told to stop at once (supervisord's own shutdown stops them one loop
        turn at a time, about a second each); once none runs, supervisord is shut down.
        """
        with contextlib.suppress(OSError, http.client.HTTPException, xmlrpc.client.Error, socket.error), self._rpc() as rpc:
            rpc.supervisor.stopAllProcesses(False)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(
                i["statename"] in ("RUNNING", "STARTING", "STOPPING", "BACKOFF") for i in rpc.supervisor.getAllProcessInfo()
            ):
                time.sleep(0.02)
            rpc.supervisor.shutdown()
        if record:
            deadline = time.monotonic() + grace
            while procs.is_ours(record) and time.monotonic() < deadline:
                procs.reap(record.pid)
                time.sleep(0.05)
            procs.stop(record)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("127.0.0.1", timeout=30)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = self._connection[1]
        if conn is None:
            conn = _UnixConnection(self.path)
            self._connection = (host, conn)
        return conn


def socket_path(folder: Path) -> Path:
    # A unix socket path may be at most 107 bytes; an endpoint's folder can be deeper than that.
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return SOCKET_ROOT / f"byoc-{os.geteuid()}" / f"supervisor-{digest}.sock"
