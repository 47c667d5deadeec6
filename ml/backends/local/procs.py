"""Processes the local backend starts, recorded so that teardown stops exactly those.

A recorded PID alone is not enough: after a reboot or a long pause the number may belong to
someone else's process. A record therefore keeps the process's start time too, and nothing is
signalled unless both still match. Every process starts in its own session, so stopping its
group also stops what it forked (gunicorn workers, nginx workers, ``buildah run`` children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from ml.backends.local.records import ProcessRecord

# A loopback /ping refused or answered costs about a millisecond: polling often lets a job start
# sending the moment its server is up (a batch transform waits on this).
HEALTH_POLL_S = 0.01
# Start times are floats from /proc; compare them with a tolerance, not for equality.
_START_TOLERANCE_S = 0.05
# A stop repeats SIGTERM this often until the group is gone: a signal that lands while a program
# is still starting can be lost. granian does lose it: a worker that gets SIGTERM after it set its
# handler but before its serve loop listens stops serving and then waits forever for a callback
# that never fires; its master waits for it up to --workers-kill-timeout. A second SIGTERM fires
# that callback. (A 150-row transform stops its server while the second worker is still starting:
# half its runs waited out the whole grace before this.)
_TERM_REPEAT_S = 0.25
# Children started by this run, kept so their exit status is collected when we stop them (a
# dropped Popen of a live process would otherwise warn, and a dead one linger as a zombie).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def owner_stamp() -> dict[str, Any]:
    """Who is running right now: enough to tell later whether this run is still alive."""
    return {"pid": os.getpid(), "started": psutil.Process().create_time()}


def owner_alive(owner: Mapping[str, Any]) -> bool:
    try:
        proc = psutil.Process(int(owner["pid"]))
        same = abs(proc.create_time() - float(owner["started"])) < _START_TOLERANCE_S
        return bool(same and proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def free_port() -> int:
    """An ephemeral loopback port that is free now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None) -> ProcessRecord:
    """Start a long-lived process detached from this run; return its record.

    It runs in ``cwd`` (default: its log's folder), a folder of its own under the state
    directory: that working directory, which its children inherit, is the marker
    :func:`stop_under` finds it by when a run was killed before it could record the PID.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd or log.parent,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return ProcessRecord(pid=proc.pid, started=psutil.Process(proc.pid).create_time(), argv=tuple(argv), log=str(log))


def is_ours(record: ProcessRecord) -> bool:
    """True while the recorded process still runs and is the one we started (same start time)."""
    return owner_alive({"pid": record.pid, "started": record.started})


def stop(record: ProcessRecord, *, grace: float = 5.0) -> bool:
    """SIGTERM the recorded process group (again every _TERM_REPEAT_S), SIGKILL after ``grace``;
    False when it was not ours."""
    pid = record.pid
    if not is_ours(record):
        reap(pid)
        return False
    deadline = time.monotonic() + grace
    next_term = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_term:
            _signal_group(pid, signal.SIGTERM)
            next_term = time.monotonic() + _TERM_REPEAT_S
        reap(pid)
        if not is_ours(record):
            break
        time.sleep(0.02)
    else:
        _signal_group(pid, signal.SIGKILL)
    _wait_group_gone(pid, grace)
    return True


def kill(record: ProcessRecord, *, timeout: float = 5.0) -> bool:
    """SIGKILL the recorded process group and wait until it is gone; False when it was not ours.

    For a process with nothing left to finish (a transform job's model server once every answer
    is in): a graceful stop would only wait for the server's own shutdown.
    """
    if not is_ours(record):
        reap(record.pid)
        return False
    pid = record.pid
    members = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pid]  # the group, before it goes
    _signal_group(pid, signal.SIGKILL)
    # Watch the members themselves, every 2 ms: re-scanning the whole process table every 20 ms
    # costs a scan and a sleep a round. A zombie counts as gone (its parent, or init, reaps it;
    # psutil.wait_procs would wait for that too).
    deadline = time.monotonic() + timeout
    while members and time.monotonic() < deadline:
        reap(pid)
        members = [p for p in members if _running(p)]
        if members:
            time.sleep(0.002)
    if members:
        _wait_group_gone(pid, timeout)
    reap(pid)
    return True


def processes_under(folder: Path) -> list[psutil.Process]:
    """Live processes whose working directory is ``folder`` or below it, recorded or not."""
    inside = str(folder.resolve())
    found = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd") or ""
        if (cwd == inside or cwd.startswith(inside + os.sep)) and _running(proc):
            found.append(proc)
    return found


def stop_under(folder: Path, *, keep: Sequence[ProcessRecord] = (), grace: float = 5.0) -> list[int]:
    """Stop every process working under ``folder`` except the groups of ``keep`` (live records).

    This finds what a killed run left unrecorded: a serve or nginx started just before the kill,
    or a green variant whose record a later write dropped. The folder is searched again after each
    SIGTERM (a master that was still starting may fork workers meanwhile, and a starting worker may
    lose the signal); what is left after ``grace`` is killed. Returns the PIDs it signalled.
    """
    kept = {r.pid for r in keep if is_ours(r)}

    def found() -> list[psutil.Process]:
        return [p for p in processes_under(folder) if p.pid != os.getpid() and _pgid(p.pid) not in kept]

    signalled: dict[int, psutil.Process] = {}
    deadline = time.monotonic() + grace
    while (targets := found()) and time.monotonic() < deadline:
        for proc in targets:
            signalled.setdefault(proc.pid, proc)
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        psutil.wait_procs(targets, timeout=_TERM_REPEAT_S)
        for proc in targets:
            reap(proc.pid)
    for proc in found():
        signalled.setdefault(proc.pid, proc)
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(signalled.values()), timeout=grace)
    for pid in signalled:
        reap(pid)
    return list(signalled)


def kill_group(pid: int) -> None:
    """SIGKILL a process group this run started (its leader's pid is the group id)."""
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # start_new_session made the process its group's leader, so its group id is its pid.
        os.killpg(pid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pgid)
        alive = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid and _running(p)]
        if not alive:
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _running(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def reap(pid: int) -> None:
    """Collect the exit status if the process is our child, so it does not linger as a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_healthy(url: str, *, record: ProcessRecord, timeout: float, what: str) -> str | None:
    """Poll ``url`` until it answers 200; return why it did not (process exit, status, timeout)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not is_ours(record):
            return f"{what} exited before becoming healthy; last lines of {record.log}:\n{tail(Path(record.log))}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - a loopback URL we built
                if answer.status == 200:
                    return None
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last = str(getattr(err, "reason", err))
        time.sleep(HEALTH_POLL_S)
    return f"{what} did not answer 200 on {url} within {timeout:g}s (last: {last}); see {record.log}"


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 8192))
            text = handle.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])
