"""Processes of the serving bench: wait for a server, stop it (and what it started), read its workers' memory."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from ml.errors import ByocError


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ByocError(f"benchmark server exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise ByocError(f"benchmark server did not listen on port {port} within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """Stop ``process`` (with ``group``: the session it leads, i.e. the children it started too)."""
    if process.poll() is None:
        _signal(process, signal.SIGTERM, group=group)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL, group=group)
            process.wait()
    if group:
        # MLflow's CLI runs uvicorn under bash; end what is left of the session we started.
        _signal(process, signal.SIGKILL, group=True)


def _signal(process: subprocess.Popen[bytes], signum: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()]
    except OSError:
        return []


def worker_pids(root: int) -> list[int]:
    """The worker processes under ``root``: the leaves of its process tree.

    gunicorn's and granian's workers are their master's children; MLflow's CLI starts bash,
    which becomes uvicorn, whose workers are its children. multiprocessing's resource tracker
    is a leaf too, but no worker.
    """
    leaves, todo = [], [root]
    while todo:
        pid = todo.pop()
        children = _children(pid)
        if children:
            todo.extend(children)
        elif pid != root and "resource_tracker" not in _cmdline(pid):
            leaves.append(pid)
    return sorted(leaves)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pss_per_worker_mb(master: int) -> float:
    """Mean proportional set size of the server's worker processes, in MB."""
    sizes = []
    for child in worker_pids(master):
        try:
            rollup = Path(f"/proc/{child}/smaps_rollup").read_text(encoding="utf-8")
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)) / 1024)
    return sum(sizes) / len(sizes) if sizes else 0.0
