"""Stopping what the backend started: a program that lost its SIGTERM still stops on its own."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from ml.backends.local import procs

# Loses the first SIGTERM, as a granian worker does when the signal lands while it starts up; a
# second one stops it cleanly, and it says so (a SIGKILL would leave no such line).
LOSES_FIRST_TERM = textwrap.dedent(
    """
    import signal, sys, time
    seen = []
    def term(signum, frame):
        seen.append(signum)
        if len(seen) > 1:
            print(f"stopped by SIGTERM number {len(seen)}", flush=True)
            sys.exit(0)
    signal.signal(signal.SIGTERM, term)
    print("ready", flush=True)
    while True:
        time.sleep(0.01)
    """
)


def test_a_program_that_loses_its_first_sigterm_stops_on_the_next_not_by_sigkill(tmp_path: Path) -> None:
    log = tmp_path / "program.log"
    record = procs.spawn([sys.executable, "-c", LOSES_FIRST_TERM], env={}, log=log)
    while "ready" not in log.read_text():
        assert procs.is_ours(record)
        time.sleep(0.01)
    assert procs.stop(record, grace=5.0)
    assert not procs.is_ours(record)
    assert "stopped by SIGTERM number 2" in log.read_text(), "it waited out the grace and was killed"


def test_a_process_that_is_not_ours_any_more_is_left_alone(tmp_path: Path) -> None:
    record = procs.spawn([sys.executable, "-c", "pass"], env={}, log=tmp_path / "quick.log")
    while procs.is_ours(record):
        procs.reap(record.pid)
        time.sleep(0.01)
    assert not procs.stop(record)
