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
from kill_helpers import Run, invoke, processes_under, project_processes, scratch_project, set_context, wait_until

from ml.backends.local import procs
from ml.backends.local.backend import LocalBackend
from ml.backends.local.layout import Layout
from ml.config import load_config

pytestmark = pytest.mark.slow
FAST = {"local_bluegreen_wait_seconds": 0.2, "local_bluegreen_baking_seconds": 0.5, "alarm_p99_latency_ms": 60000}
# The phase to kill in lasts long enough that a kill on its line lands inside it.
SLOW = {
    "waiting": {"local_bluegreen_wait_seconds": 600, "local_bluegreen_baking_seconds": 600},
    "baking": {"local_bluegreen_wait_seconds": 0.2, "local_bluegreen_baking_seconds": 600},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch project with versions 1 and 2 trained and approved (in this process: faster)."""
    root = scratch_project(tmp_path_factory.mktemp("killed"))
    set_context(root, **FAST)
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    for depth in ("8", "2"):
        job = backend.train(hyperparameters={"max_depth": depth})
        backend.approve(version=backend.register(job_name=job.name).version, note="kill tests")
    yield root
    backend.teardown_all()


@pytest.fixture
def clean(project: Path) -> Iterator[Path]:
    set_context(project, **FAST)
    yield project
    invoke(project, "teardown")
    assert project_processes(project) == []


def _layout(root: Path) -> Layout:
    config = load_config(root / "cdktf.json")
    return Layout.for_project(root=root, state_dir=config.local_state_dir)


def _endpoint_dir(root: Path) -> Path:
    return _layout(root).endpoint_dir(load_config(root / "cdktf.json").endpoint_name)


def _describe(root: Path) -> dict[str, object]:
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    return backend.describe_endpoint(endpoint_name=backend.config.endpoint_name).to_dict()


def _serving_groups(root: Path) -> int:
    """How many variant folders have a live process: after convergence, exactly one."""
    variants = _endpoint_dir(root) / "variants"
    return sum(1 for d in variants.iterdir() if processes_under(d)) if variants.is_dir() else 0


@pytest.mark.parametrize("point", ["variant", "router"])
def test_kill_while_creating_then_deploy_converges_and_teardown_stops_everything(clean: Path, point: str) -> None:
    run = Run(clean, "deploy", "--mode", "endpoint", "--version", "1")
    where = _endpoint_dir(clean) / ("variants" if point == "variant" else "router")
    wait_until(lambda: where.is_dir() and processes_under(where) > 0, f"a process under {where}")
    run.kill()
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    described = _describe(clean)
    assert (described["status"], described["version"]) == ("InService", 1)
    assert "predicted" in invoke(clean, "test-endpoint")
    assert _serving_groups(clean) == 1


@pytest.mark.parametrize("phase", ["waiting", "baking"])
def test_kill_during_an_update_rolls_back_on_the_next_command(clean: Path, phase: str) -> None:
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    set_context(clean, **SLOW[phase])
    run = Run(clean, "deploy", "--mode", "update", "--version", "2")
    run.wait_for_line(f"of traffic on version 2; {phase}")
    run.kill()
    assert _serving_groups(clean) == 2  # blue and green both outlive the killed run
    set_context(clean, **FAST)
    out = invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    assert "rolled back to version 1 after an interrupted run" in out
    assert _serving_groups(clean) == 1  # green stopped, though its record was the killed run's
    described = _describe(clean)
    assert (described["status"], described["version"]) == ("InService", 1)
    invoke(clean, "deploy", "--mode", "update", "--version", "2")
    assert _describe(clean)["version"] == 2
    assert _serving_groups(clean) == 1


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
        lambda: out.is_dir() and any(out.glob(".*.tmp")) and processes_under(_layout(clean).state / "transforms") > 0,
        "a half-written transform output and its model server",
    )
    run.kill()
    assert processes_under(_layout(clean).state / "transforms") > 0  # its model server outlived it
    lines = invoke(clean, "teardown")
    assert "half-written" in lines
    assert processes_under(_layout(clean).state / "transforms") == 0
    assert sorted(p.name for p in out.iterdir()) == []
    invoke(clean, "deploy", "--mode", "transform", "--data", "data/big", "--output", "out")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv.out", "b.csv.out"]
    assert len((out / "a.csv.out").read_text(encoding="utf-8").splitlines()) == len(rows) * 2000
    records = [json.loads(p.read_text()) for p in (_layout(clean).records / "transform-jobs").glob("*.json")]
    assert sorted(r["status"] for r in records) == ["Completed", "Failed"]


def test_pipeline_with_approve_succeeds_twice_in_a_row(clean: Path) -> None:
    # CodePipeline runs the same buildspecs on every push: the second run must train a new
    # version and move the live endpoint to it blue/green, not fail on "already exists".
    invoke(clean, "pipeline", "--approve")
    first = _describe(clean)["version"]
    second = invoke(clean, "pipeline", "--approve")
    assert f"retired blue (version {first})" in second
    described = _describe(clean)
    assert (described["status"], described["version"], described["previous_versions"]) == ("InService", int(str(first)) + 1, [first])


def test_after_a_reboot_the_cli_says_why_and_one_command_restores_the_endpoint(clean: Path) -> None:
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    before = _describe(clean)
    for proc in procs.processes_under(_endpoint_dir(clean)):
        proc.kill()  # what a machine restart does to every process of the endpoint
    wait_until(lambda: not processes_under(_endpoint_dir(clean)), "every process of the endpoint to be gone")
    failed = Run(clean, "test-endpoint")
    assert failed.exit_code() == 1
    assert any("supervisor is down" in line and "invoke restore" in line for line in failed.lines), failed.lines
    assert _describe(clean)["status"] == "OutOfService"
    restored = invoke(clean, "restore")
    assert f"on {before['url']}" in restored, restored
    after = _describe(clean)
    assert (after["status"], after["url"], after["version"]) == ("InService", before["url"], 1)
    assert "predicted" in invoke(clean, "test-endpoint")
