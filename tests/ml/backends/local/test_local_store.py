"""The state store: concurrent runs never corrupt it, and a crashed run's records end up Failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from local_helpers import REPO

from ml.backends.local.layout import Layout
from ml.backends.local.store import StateStore
from ml.errors import StateError, UserInputError


def _store(root: Path) -> StateStore:
    return StateStore(layout=Layout.for_project(root=root, state_dir=".byoc"), lock_timeout=30)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ml.backends.local.layout import Layout
    from ml.backends.local.store import StateStore
    store = StateStore(layout=Layout.for_project(root=Path(sys.argv[1]), state_dir=".byoc"))
    for i in range(25):
        with store.locked():
            counter = store.get("counters", "shared") or {"value": 0, "writers": []}
            counter["value"] += 1
            counter["writers"].append(sys.argv[2])
            store.put("counters", "shared", counter)
    """
)


def test_concurrent_runs_never_lose_an_update(tmp_path: Path) -> None:
    runs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
        for n in range(4)
    ]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    counter = _store(tmp_path).get("counters", "shared")
    assert counter is not None and counter["value"] == 100
    assert sorted(set(counter["writers"])) == ["0", "1", "2", "3"]
    leftovers = list((tmp_path / ".byoc" / "records" / "counters").glob(".*.tmp"))
    assert leftovers == []


def test_a_record_left_in_progress_by_a_dead_run_is_marked_failed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    path = tmp_path / ".byoc" / "records" / "training-jobs" / "crashed.json"
    path.parent.mkdir(parents=True)
    record = {"name": "crashed", "status": "InProgress", "owner": {"pid": int(dead.stdout), "started": 1.0}}
    path.write_text(json.dumps(record))
    recovered = store.get("training-jobs", "crashed")
    assert recovered is not None and recovered["status"] == "Failed"
    assert f"pid {int(dead.stdout)}" in recovered["failure_reason"] and "stopped before finishing" in recovered["failure_reason"]
    assert json.loads(path.read_text())["status"] == "Failed"


def test_a_record_in_progress_by_this_live_run_is_left_alone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put("training-jobs", "live", {"name": "live", "status": "InProgress"})
    live = store.get("training-jobs", "live")
    assert live is not None and live["status"] == "InProgress"


def test_a_claimed_resource_refuses_a_second_run_at_once(tmp_path: Path) -> None:
    store, other = _store(tmp_path), _store(tmp_path)
    with (
        store.claim("endpoint", "ep"),
        pytest.raises(StateError, match=rf"endpoint 'ep' is in use by pid {os.getpid()} \(.*pytest.*\)"),
        other.claim("endpoint", "ep"),
    ):
        pass
    with other.claim("endpoint", "ep"):  # released once the first run is done
        pass


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ml.backends.local.layout import Layout
    from ml.backends.local.store import StateStore
    root = Path(sys.argv[1])
    store = StateStore(layout=Layout.for_project(root=root, state_dir=".byoc"))
    with store.claim("endpoint", "ep", doing="updating it to model version 2"):
        (root / "held").touch()
        while not (root / "release").exists():
            time.sleep(0.02)
    """
)


def test_a_run_that_waits_for_a_claim_is_told_who_holds_it(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "held").exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never took the claim"
            time.sleep(0.02)
        heard: list[str] = []
        threading.Timer(0.5, (tmp_path / "release").touch).start()
        with _store(tmp_path).claim("endpoint", "ep", wait=30, doing="tearing it down", on_wait=heard.append):
            pass
    finally:
        (tmp_path / "release").touch()
        holder.wait(timeout=30)
    (said,) = heard  # once, when the wait starts (then every 10 s while it lasts)
    assert said.startswith(f"endpoint 'ep' is in use by pid {holder.pid} (")
    assert "updating it to model version 2" in said and "waiting up to 30s for it to finish" in said


def test_names_that_would_escape_the_state_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not a valid name"):
        _store(tmp_path).get("endpoints", "../../etc/passwd")
