"""The state store: one JSON file per record, atomic writes, one file lock for the project.

Two task runs at once (``invoke train`` in one terminal, ``invoke deploy`` in another) must never
lose or half-write a record, so every read-modify-write happens under an ``fcntl`` lock and every
write is a temp file, fsync and rename. Long operations (training, a blue/green update) do not
hold that lock; they claim their one resource instead (:meth:`StateStore.claim`), and stamp the
records they leave in progress with their owner, so a run that crashes is found and its records
are marked Failed by the next run rather than left InProgress forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from ml.atomic import atomic_write_json
from ml.backends.local.clock import now_iso
from ml.backends.local.layout import Layout, safe_name
from ml.backends.local.procs import owner_alive, owner_stamp
from ml.backends.records import IN_PROGRESS
from ml.errors import StateError

# While a claim is waited for, the wait is said again this often (seconds).
WAIT_NOTICE_S = 10.0


class StateStore:
    """Records by ``kind`` and ``name``, as plain JSON dicts (the records' ``to_dict`` form)."""

    def __init__(self, *, layout: Layout, lock_timeout: float = 60.0) -> None:
        self._layout = layout
        self._lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the project lock (re-entrant within this store) for a read-modify-write."""
        with self._thread_lock:
            if self._depth == 0:
                self._fd = _acquire(self._layout.lock_file, timeout=self._lock_timeout, what="the local state")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None

    @contextlib.contextmanager
    def claim(
        self, kind: str, name: str, *, wait: float = 0.0, doing: str = "", on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Exclusive use of one resource for a long operation; fails if another run still has it after ``wait`` s.

        ``doing`` (what this run does with it) is written into the claim, so a run that has to
        wait is told who holds the resource and why; ``on_wait`` hears that, and that it waits.
        """
        path = self._layout.state / "claims" / f"{kind}-{safe_name(name, what=kind)}.lock"
        fd = _acquire(path, timeout=wait, what=f"{kind} {name!r}", doing=doing, on_wait=on_wait)
        try:
            yield
        finally:
            os.close(fd)

    def _path(self, kind: str, name: str) -> Path:
        return self._layout.record_dir(kind) / f"{safe_name(name, what=kind)}.json"

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._read(kind, name, self._path(kind, name))

    def _read(self, kind: str, name: str, path: Path) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as err:  # only a hand edit can do this: writes are atomic
            raise StateError(f"{path} is not valid JSON ({err}); fix or delete it") from err
        return self._recovered(kind, name, data)

    def put(self, kind: str, name: str, data: dict[str, Any], *, in_progress: bool | None = None) -> None:
        """Write a record; in-progress records are stamped with this run so a crash is detectable."""
        with self.locked():
            record = dict(data)
            running = record.get("status") in IN_PROGRESS if in_progress is None else in_progress
            if running:
                record["owner"] = owner_stamp()
            else:
                record.pop("owner", None)
            atomic_write_json(self._path(kind, name), record)

    def delete(self, kind: str, name: str) -> None:
        with self.locked():
            self._path(kind, name).unlink(missing_ok=True)

    def list(self, kind: str) -> list[dict[str, Any]]:
        folder = self._layout.record_dir(kind)
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            record = self._read(kind, path.stem, path)  # the path is known: no name check and join per record
            if record is not None:
                found.append(record)
        return found

    def _recovered(self, kind: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
        owner = data.get("owner")
        if data.get("status") not in IN_PROGRESS or not isinstance(owner, dict) or owner_alive(owner):
            return data
        with self.locked():
            fresh = json.loads(self._path(kind, name).read_text(encoding="utf-8"))
            if fresh.get("owner") != owner:  # someone else settled it meanwhile
                return self._recovered(kind, name, fresh)
            was = fresh.get("status")
            fresh["status"] = "Failed"
            fresh["failure_reason"] = (
                f"the run that left it {was} (pid {owner.get('pid')}) stopped before finishing; "
                f"{fresh.get('failure_reason') or 'nothing was recorded after that'}"
            )
            fresh.setdefault("ended_at", now_iso())
            fresh.pop("owner", None)
            atomic_write_json(self._path(kind, name), fresh)
            return dict(fresh)


def _acquire(path: Path, *, timeout: float, what: str, doing: str = "", on_wait: Callable[[str], None] | None = None) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    said = -WAIT_NOTICE_S  # when the wait was last said, relative to ``started``
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = time.monotonic() - started
            if waited >= timeout:
                holder = _holder(fd)
                os.close(fd)
                raise StateError(f"{what} is in use by {holder}; wait for it to finish, then try again") from None
            if on_wait is not None and waited - said >= WAIT_NOTICE_S:
                said = waited
                again = f" (waited {waited:.0f}s so far)" if waited else ""
                on_wait(f"{what} is in use by {_holder(fd)}; waiting up to {timeout:g}s for it to finish{again}")
            time.sleep(0.02)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "doing": doing}).encode(), 0)
        return fd


def _holder(fd: int) -> str:
    """Who holds a claim, as its file says: pid, command line (while it runs) and what it does."""
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    try:
        data = json.loads(text)
        pid, doing = int(data["pid"]), str(data.get("doing") or "")
    except (ValueError, KeyError, TypeError):
        return f"pid {text or 'unknown'}"
    try:
        command = " ".join(psutil.Process(pid).cmdline())[:120]
    except psutil.Error:
        command = ""
    who = f"pid {pid}" + (f" ({command})" if command else "")
    return f"{who}, {doing}" if doing else who
