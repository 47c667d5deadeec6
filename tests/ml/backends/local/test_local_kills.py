"""SIGKILL real `invoke deploy` runs at several points; the next command must converge.

Each run is `python -m invoke ...` in a scratch copy of the project, killed when an observable
event says it reached the point under test (a process in the process table, a line it printed,
a temp file). After the kill the next command must report or repair the state, and `invoke
teardown` must leave no process of the project running: checked in the process table, never in
the backend's own records, which is exactly what a kill can make wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kill_helpers import (
    FAST,
    Run,
    describe,
    endpoint_dir,
    invoke,
    layout,
    processes_under,
    project_processes,
    serving_groups,
    set_context,
    wait_until,
)

from ml.backends.local import procs

pytestmark = pytest.mark.slow
# The phase to kill in lasts long enough that a kill on its line lands inside it.
SLOW = {
    "waiting": {"local_bluegreen_wait_seconds": 600, "local_bluegreen_baking_seconds": 600},
    "baking": {"local_bluegreen_wait_seconds": 0.2, "local_bluegreen_baking_seconds": 600},
}


@pytest.fixture
def clean(cli_project: Path) -> Iterator[Path]:
    set_context(cli_project, **FAST)
    yield cli_project
    invoke(cli_project, "teardown")
    assert project_processes(cli_project) == []


@pytest.mark.parametrize("point", ["variant", "router"])
def test_kill_while_creating_then_deploy_converges_and_teardown_stops_everything(clean: Path, point: str) -> None:
    run = Run(clean, "deploy", "--mode", "endpoint", "--version", "1")
    where = endpoint_dir(clean) / ("variants" if point == "variant" else "router")
    wait_until(lambda: where.is_dir() and processes_under(where) > 0, f"a process under {where}")
    run.kill()
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    described = describe(clean)
    assert (described["status"], described["version"]) == ("InService", 1)
    assert "predicted" in invoke(clean, "test-endpoint")
    assert serving_groups(clean) == 1


@pytest.mark.parametrize("phase", ["waiting", "baking"])
def test_kill_during_an_update_rolls_back_on_the_next_command(clean: Path, phase: str) -> None:
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    set_context(clean, **SLOW[phase])
    run = Run(clean, "deploy", "--mode", "update", "--version", "2")
    run.wait_for_line(f"of traffic on version 2; {phase}")
    run.kill()
    assert serving_groups(clean) == 2  # blue and green both outlive the killed run
    set_context(clean, **FAST)
    out = invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    assert "rolled back to version 1 after an interrupted run" in out
    assert serving_groups(clean) == 1  # green stopped, though its record was the killed run's
    described = describe(clean)
    assert (described["status"], described["version"]) == ("InService", 1)
    invoke(clean, "deploy", "--mode", "update", "--version", "2")
    assert describe(clean)["version"] == 2
    assert serving_groups(clean) == 1


def test_kill_during_a_transform_leaves_no_output_and_teardown_stops_its_server(clean: Path) -> None:
    big = clean / "data" / "big"
    big.mkdir(exist_ok=True)
    rows = (clean / "data" / "iris.csv").read_text(encoding="utf-8").splitlines()
    for name in ("a.csv", "b.csv"):
        (big / name).write_text("\n".join(rows * 2000) + "\n", encoding="utf-8")
    out = clean / "out"
    run = Run(clean, "deploy", "--mode", "transform", "--data", "data/big", "--output", "out")
    # The model server starts while the client reads the first batches: wait for both.
    wait_until(
        lambda: out.is_dir() and any(out.glob(".*.tmp")) and processes_under(layout(clean).state / "transforms") > 0,
        "a half-written transform output and its model server",
    )
    run.kill()
    assert processes_under(layout(clean).state / "transforms") > 0  # its model server outlived it
    lines = invoke(clean, "teardown")
    assert "half-written" in lines
    assert processes_under(layout(clean).state / "transforms") == 0
    assert sorted(p.name for p in out.iterdir()) == []
    invoke(clean, "deploy", "--mode", "transform", "--data", "data/big", "--output", "out")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv.out", "b.csv.out"]
    assert len((out / "a.csv.out").read_text(encoding="utf-8").splitlines()) == len(rows) * 2000
    records = [json.loads(p.read_text()) for p in (layout(clean).records / "transform-jobs").glob("*.json")]
    assert sorted(r["status"] for r in records) == ["Completed", "Failed"]


def test_pipeline_with_approve_succeeds_twice_in_a_row(clean: Path) -> None:
    # CodePipeline runs the same buildspecs on every push: the second run must train a new
    # version and move the live endpoint to it blue/green, not fail on "already exists".
    invoke(clean, "pipeline", "--approve")
    first = describe(clean)["version"]
    second = invoke(clean, "pipeline", "--approve")
    assert f"retired blue (version {first})" in second
    described = describe(clean)
    assert (described["status"], described["version"], described["previous_versions"]) == ("InService", int(str(first)) + 1, [first])


def test_after_a_reboot_the_cli_says_why_and_one_command_restores_the_endpoint(clean: Path) -> None:
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    before = describe(clean)
    for proc in procs.processes_under(endpoint_dir(clean)):
        proc.kill()  # what a machine restart does to every process of the endpoint
    wait_until(lambda: not processes_under(endpoint_dir(clean)), "every process of the endpoint to be gone")
    failed = Run(clean, "test-endpoint")
    assert failed.exit_code() == 1
    assert any("supervisor is down" in line and "invoke restore" in line for line in failed.lines), failed.lines
    assert describe(clean)["status"] == "OutOfService"
    restored = invoke(clean, "restore")
    assert f"on {before['url']}" in restored, restored
    after = describe(clean)
    assert (after["status"], after["url"], after["version"]) == ("InService", before["url"], 1)
    assert "predicted" in invoke(clean, "test-endpoint")
