"""Which processes the serving bench counts as workers, on a real process tree."""

from __future__ import annotations

import subprocess
import time

from tools.bench.serving_procs import pss_per_worker_mb, stop, worker_pids


def test_workers_are_the_leaves_of_the_tree_under_the_server() -> None:
    # sh -> (sh -> sleep, sleep): like MLflow's CLI -> uvicorn -> workers, two levels down.
    script = "sh -c 'sleep 30 & sleep 30 & wait' & wait"
    server = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        leaves: list[int] = []
        while time.monotonic() < deadline and len(leaves) < 2:
            leaves = worker_pids(server.pid)
            time.sleep(0.05)
        assert len(leaves) == 2
        for pid in leaves:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                assert cmdline.read().split(b"\0")[0] == b"sleep"
        assert pss_per_worker_mb(server.pid) > 0
    finally:
        stop(server, group=True)
    assert server.poll() is not None


def test_a_process_without_children_has_no_workers() -> None:
    lone = subprocess.Popen(["sleep", "30"])
    try:
        assert worker_pids(lone.pid) == []
        assert pss_per_worker_mb(lone.pid) == 0.0
    finally:
        stop(lone)
