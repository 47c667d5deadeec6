"""Run a supervised program after killing what is left of its previous process group.

supervisord starts each program as the leader of a new process group. When a master dies by
SIGKILL its children (an nginx worker, granian workers) keep running in that group, holding the
port, and the restarted program could not bind it. So before ``exec`` this wrapper SIGKILLs every
live process of the group recorded last time (only those working in this program's folder: a
recorded group id may belong to someone else after a reboot), then records its own group.

Run as a script by path (``python pgrun.py PGID_FILE -- ARGV...``) so it adds nothing to the
program's environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import psutil


def _members(pgid: int, folder: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "status"]):
        try:
            if proc.pid == os.getpid() or os.getpgid(proc.pid) != pgid or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
        except (ProcessLookupError, PermissionError):
            continue
        cwd = proc.info.get("cwd") or ""
        if cwd == folder or cwd.startswith(folder + os.sep):
            found.append(proc)
    return found


def kill_previous(pgid_file: Path, folder: str) -> list[int]:
    try:
        old = int(pgid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return []
    left = _members(old, folder)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(left, timeout=5)
    return [p.pid for p in left]


def record(pgid_file: Path) -> None:
    tmp = pgid_file.with_name(pgid_file.name + ".tmp")
    tmp.write_text(f"{os.getpgid(0)}\n", encoding="utf-8")
    os.replace(tmp, pgid_file)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: pgrun.py PGID_FILE -- PROGRAM [ARGS...]")
    pgid_file = Path(argv[0])
    killed = kill_previous(pgid_file, os.getcwd())
    if killed:
        print(f"pgrun: killed {len(killed)} leftover process(es) of the previous run: {killed}", flush=True)
        time.sleep(0.05)  # let the kernel release their listening sockets
    record(pgid_file)
    os.execvp(argv[2], argv[2:])  # noqa: S606 - the program supervisord was told to run, argv as given


if __name__ == "__main__":
    main(sys.argv[1:])
