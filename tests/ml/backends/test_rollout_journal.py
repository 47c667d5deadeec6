"""The rollout's lines on disk: what the CLI prints is what a second process reads, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.backends.base import BlueGreenPolicy
from ml.backends.rollout import Rollout
from ml.backends.rollout_journal import RolloutJournal, journal_path, read_journal
from ml.errors import UserInputError

POLICY = BlueGreenPolicy(traffic="LINEAR", step_percent=50, wait_seconds=1, baking_seconds=2, error_rate_percent=1, p99_latency_ms=200)


def _journal(tmp_path: Path) -> RolloutJournal:
    return RolloutJournal(journal_path(state_dir=tmp_path, backend="local", endpoint="ep"))


def test_the_journal_holds_exactly_the_lines_the_cli_prints(tmp_path: Path) -> None:
    printed: list[str] = []
    journal = _journal(tmp_path)
    rollout = Rollout(sink=printed.append, endpoint="ep", version=2, blue_version=1, journal=journal)
    rollout.plan(POLICY)
    rollout.status("Updating")
    rollout.traffic(50, dwell_s=1)
    rollout.alarm_check(breach=None, measured="0 requests")
    rollout.traffic(100, dwell_s=2)
    rollout.blue_retired()
    page = read_journal(journal.path)
    assert [e.line for e in page.events] == printed
    assert [e.kind for e in page.events] == ["plan", "status", "traffic", "alarm", "traffic", "done"]
    assert [e.seq for e in page.events] == [1, 2, 3, 4, 5, 6]
    assert page.update == journal.update and page.update


def test_a_reader_gets_only_the_lines_after_its_cursor(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.start()
    for n in range(5):
        journal.append(kind="traffic", line=f"step {n}")
    later = read_journal(journal.path, update=journal.update, after=3)
    assert [e.line for e in later.events] == ["step 3", "step 4"]


def test_a_new_update_replaces_the_old_lines_and_resets_old_cursors(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.start()
    journal.append(kind="plan", line="first update")
    first = journal.update
    Rollout(sink=None, endpoint="ep", version=3, blue_version=2, journal=journal).rolled_back()
    page = read_journal(journal.path, update=first, after=1)
    assert page.update != first
    assert [e.line for e in page.events] == ["rolled back: version 2 serves all traffic; green (version 3) stopped"]


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.append(kind="plan", line="whole")
    with journal.path.open("a", encoding="utf-8") as handle:
        handle.write('{"update": "x", "seq": 2, "line": "half')
    assert [e.line for e in read_journal(journal.path).events] == ["whole"]


def test_no_journal_yet_reads_as_no_update(tmp_path: Path) -> None:
    page = read_journal(tmp_path / "nothing.jsonl")
    assert (page.update, page.events) == ("", ())


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "x" * 200])
def test_journal_names_cannot_leave_the_state_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserInputError, match="is not a valid name"):
        journal_path(state_dir=tmp_path, backend="local", endpoint=name)


def test_journals_are_kept_apart_per_backend_and_endpoint(tmp_path: Path) -> None:
    local = journal_path(state_dir=tmp_path, backend="local", endpoint="ep")
    aws = journal_path(state_dir=tmp_path, backend="sagemaker", endpoint="ep")
    assert local != aws and local == tmp_path / "rollouts" / "local" / "ep.jsonl"
