"""A blue/green update's progress lines on disk, so another process can follow the update live.

The process running an update (``invoke deploy --mode update``, the pipeline) prints each line of
:class:`ml.backends.rollout.Rollout` and also appends it here; the web console reads the same
file and shows the same lines as they come. One file per backend and endpoint, under the
project's state directory: ``<local_state_dir>/rollouts/<backend>/<endpoint>.jsonl``.

A new update replaces the file atomically (so memory and disk hold one update's lines, a few
dozen, never a growing history) and stamps every line with its update's id: a reader whose
cursor belongs to an older update starts again from the first line. Each line is one ``write``
of a whole JSON object to a file opened with ``O_APPEND``, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.errors import UserInputError

JOURNALS_DIR = "rollouts"
# Enough for the longest update (LINEAR at 10%: ten steps, each with its alarm check) many times over.
MAX_EVENTS = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def journal_path(*, state_dir: Path, backend: str, endpoint: str) -> Path:
    """Where ``backend``'s updates of ``endpoint`` write their lines."""
    for what, name in (("backend", backend), ("endpoint name", endpoint)):
        if not _NAME.match(name):
            raise UserInputError(f"{what} {name!r} is not a valid name; use letters, digits, '.', '_' or '-' (at most 128)")
    return state_dir / JOURNALS_DIR / backend / f"{endpoint}.jsonl"


@dataclass(frozen=True, kw_only=True)
class RolloutEvent:
    seq: int  # 1, 2, ... within one update
    at: str  # ISO 8601 UTC
    kind: str  # plan, status, green, traffic, alarm, rollback, done, fleet
    line: str  # exactly what the CLI prints


@dataclass(frozen=True, kw_only=True)
class JournalPage:
    update: str  # the id of the update the file holds now ("" when no update was recorded)
    events: tuple[RolloutEvent, ...]  # those after the reader's cursor, oldest first


class RolloutJournal:
    """The writing side: :meth:`start` once per update, then :meth:`append` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.update = ""
        self._seq = 0

    def start(self) -> None:
        self.update = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        self._seq = 0
        atomic_write_text(self.path, "")

    def append(self, *, kind: str, line: str) -> None:
        if not self.update:
            self.start()
        self._seq += 1
        record = {"update": self.update, "seq": self._seq, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), "kind": kind}
        data = (json.dumps({**record, "line": line}, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def read_journal(path: Path, *, update: str = "", after: int = 0) -> JournalPage:
    """The lines of the update in ``path`` after ``after``; from the first when ``update`` is older."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return JournalPage(update="", events=())
    events: list[RolloutEvent] = []
    current = ""
    for raw in text.splitlines(keepends=True):
        if not raw.endswith("\n"):
            break  # a line being written: the next read gets it whole
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line of a file another version wrote: not this reader's to judge
        current = str(data.get("update", ""))
        seq = int(data.get("seq", 0))
        if current == update and seq <= after:
            continue
        events.append(RolloutEvent(seq=seq, at=str(data.get("at", "")), kind=str(data.get("kind", "")), line=str(data.get("line", ""))))
    return JournalPage(update=current, events=tuple(events[:MAX_EVENTS]))
