"""The invoke tasks: thin, documented, and user errors become messages with a non-zero exit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke.context import MockContext
from invoke.exceptions import Exit
from invoke.runners import Result

import tasks
from ml.backends.records import ModelVersion, ReportRecord
from ml.errors import NotFoundError
from tools.bench import tasks as bench_tasks

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_TASKS = {
    "data", "build-image", "train", "approve", "report", "versions", "deploy", "test-endpoint", "rollback",
    "describe", "restore", "teardown", "pipeline", "lifecycle", "rehearse", "monitor", "console", "synth", "outputs", "mutation", "check",
    "preflight", "destroy",
}  # fmt: skip
BENCHMARKS = {"serving", "transform", "monitor", "capture", "recovery", "capacity", "console"}


def context(**config: object) -> MockContext:
    """A MockContext configured as invoke configures the real one: the collection's defaults, then ``config``."""
    ctx = MockContext()
    ctx.config.load_collection(tasks.ns.configuration())
    for key, value in config.items():
        setattr(ctx.config, key, value)
    return ctx


def scratch_project(root: Path) -> Path:
    """tasks.py and cdktf.json beside links to ml/ and tools/: local state lands in ``root``, not the checkout."""
    for name in ("tasks.py", "cdktf.json"):
        shutil.copy(ROOT / name, root / name)
    for package in ("ml", "tools"):
        (root / package).symlink_to(ROOT / package)
    return root


def test_every_task_is_listed_with_a_description() -> None:
    listing = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in EXPECTED_TASKS | {f"bench.{b}" for b in BENCHMARKS}:
        line = next((row for row in listing.splitlines() if row.strip().startswith(name + " ")), "")
        assert len(line.split(None, 1)) == 2, f"{name} has no description in `invoke --list`"
    assert {t.replace("_", "-") for t in tasks.ns.tasks} == EXPECTED_TASKS
    assert set(tasks.ns.collections["bench"].tasks) == BENCHMARKS | {"run"}
    assert tasks.ns.collections["bench"].default == "run"  # `invoke bench --target NAME` still works


def test_check_runs_every_gate_in_order() -> None:
    ctx = MockContext(
        run={"ruff check .": Result(), "ruff format --check .": Result(), "mypy": Result(), f"{sys.executable} -m pytest": Result()}
    )
    tasks.check(ctx)
    commands = [call.args[0] for call in ctx.run.call_args_list]  # type: ignore[attr-defined]
    assert commands == ["ruff check .", "ruff format --check .", "mypy", f"{sys.executable} -m pytest"]


def test_user_error_becomes_exit_with_message() -> None:
    with pytest.raises(Exit) as caught:
        tasks.train(context(), hyperparameter=["max_depth"])
    assert caught.value.code == 1
    assert "must look like NAME=VALUE" in str(caught.value.message)


def test_unknown_deploy_mode_is_rejected_before_any_work() -> None:
    with pytest.raises(Exit) as caught:
        tasks.deploy(MockContext(), mode="canary")
    assert caught.value.code == 2
    assert "endpoint, transform or update" in str(caught.value.message)


@pytest.mark.parametrize(
    ("task", "args", "flags", "code", "message"),
    [
        ("approve", ["8"], {"status": "Maybe"}, 1, "approval status must be Approved or Rejected, not 'Maybe'"),
        ("approve", ["8"], {"note": "two\nlines"}, 1, "approval note must be one line"),
        ("approve", ["v3"], {}, 2, "model version number"),
        ("deploy", [], {"mode": "canary"}, 2, "endpoint, transform or update"),
        ("test_endpoint", [], {"rows": 0}, 1, "--rows must be at least 1"),
        ("train", [], {"hyperparameter": ["max_depth"]}, 1, "must look like NAME=VALUE"),
        ("monitor", [], {"hours": -1.0}, 1, "--hours must be positive"),
        ("monitor", [], {"since": "2026-11-28T05:00", "hours": 1.0}, 1, "give --since or --hours, not both"),
        ("monitor", [], {"until": "yesterday"}, 1, "--until 'yesterday' is not a time"),
        ("bench.run", [], {"target": "nope"}, 2, "--target must be one of serving, transform"),
        ("bench.capacity", [], {"clients": "64,lots"}, 2, "--clients takes whole numbers separated by commas"),
        ("bench.run", [], {"target": "transform", "rows": 0}, 2, "--rows must be at least 1 (got --rows 0)"),
        ("bench.serving", [], {"rounds": 0}, 2, "--rounds must be at least 1"),
        ("rehearse", [], {"pipelines": "build,ship"}, 2, "--pipelines takes build, train, deploy, not ship"),
        ("pipeline", [], {"mode": "later"}, 1, "--mode must be endpoint, transform or update"),
        ("mutation", [], {"modules": "everything"}, 2, "unknown mutation target(s) everything"),
        ("mutation", [], {"minutes": 0}, 2, "--minutes must be positive"),
    ],
)
def test_every_task_checks_its_flags_before_any_side_effect(  # noqa: PLR0917 - pytest passes parameters positionally
    task: str, args: list[str], flags: dict[str, object], code: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused flag leaves nothing behind: no backend is made (no report, no process, no AWS call)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{task} reached a backend before checking its flags")

    monkeypatch.setattr(tasks, "_backend", refuse)
    monkeypatch.setattr("ml.backends.make_backend", refuse)
    monkeypatch.setattr("ml.pipeline.run_streaming", refuse)
    module, _, name = task.rpartition(".")
    with pytest.raises(Exit) as caught:
        getattr(bench_tasks if module == "bench" else tasks, name)(MockContext(), *args, **flags)
    assert caught.value.code == code
    assert message in str(caught.value.message)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(Exit, match="unknown backend 'azure'"):
        tasks.build_image(context(), backend="azure")
    with pytest.raises(Exit, match="unknown backend 'azure'"):
        tasks.versions(context(backend="azure"))  # the configured default is read, not a second one


def test_approve_takes_the_version_as_text_and_checks_it() -> None:
    with pytest.raises(Exit) as caught:
        tasks.approve(MockContext(), "v3")
    assert caught.value.code == 2
    assert "model version number" in str(caught.value.message)


def test_approve_from_the_command_line_reaches_the_registry(tmp_path: Path) -> None:
    # Through invoke's own parser, as a user types it: the version arrives as text.
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "approve", "999"], cwd=scratch_project(tmp_path), capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "version 999" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_environment_sets_the_default_backend_and_a_flag_still_wins(tmp_path: Path) -> None:
    # What a CodeBuild project's environment can do instead of each buildspec line's --backend.
    project = scratch_project(tmp_path)
    env = {**os.environ, "INVOKE_BACKEND": "sagemaker"}
    on_aws = subprocess.run([sys.executable, "-m", "invoke", "restore"], cwd=project, env=env, capture_output=True, text=True, check=False)
    assert (on_aws.returncode, on_aws.stderr.strip()) == (
        2,
        "error: restore is for the local backend (one machine's endpoints), not sagemaker",
    )
    argv = [sys.executable, "-m", "invoke", "restore", "--backend", "local"]
    local = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, check=False)
    assert (local.returncode, local.stdout.split(";")[0]) == (0, "no endpoints are recorded"), local.stderr


class _Backend:
    """What a task may ask of a backend: the Backend interface, and nothing about its class."""

    name = "fake"

    def __init__(self, *, local: bool, report: ReportRecord | None = None) -> None:
        self.local_verbs = self if local else None
        self.written = report or ReportRecord(version=0, location="")
        self.calls: list[str] = []

    def review(self, *, version: int) -> ReportRecord:
        self.calls.append(f"review {version}")
        return ReportRecord(version=version, location="here", lines=(f"candidate v{version} beside serving",))

    def list_versions(self) -> list[ModelVersion]:
        return [ModelVersion(group="g", version=3, approval_status="PendingManualApproval", artifact_uri="file:///m")]

    def describe_endpoint(self, *, endpoint_name: str) -> None:
        raise NotFoundError(f"no endpoint {endpoint_name}")

    def approve(self, *, version: int, status: str, note: str) -> ModelVersion:
        self.calls.append(f"approve {version} {status}")
        return ModelVersion(group="g", version=version, approval_status="Approved", artifact_uri="file:///m")

    def report(self, *, version: int | None) -> ReportRecord:
        self.calls.append(f"report {version}")
        return self.written

    def teardown_all(self) -> list[str]:
        return ["stopped every endpoint"]

    def teardown(self, *, endpoint_name: str) -> list[str]:
        return [f"stopped {endpoint_name}"]


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> Callable[..., _Backend]:
    def install(**kwargs: object) -> _Backend:
        made = _Backend(**kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(tasks, "_backend", lambda c, backend, runtime="process": made)
        return made

    return install


def test_approve_shows_the_review_only_where_the_backend_offers_it(fake_backend: Callable[..., _Backend], capsys: Any) -> None:
    local = fake_backend(local=True)
    tasks.approve(context(), "3")
    assert local.calls == ["review 3", "approve 3 Approved"]
    assert "candidate v3 beside serving" in capsys.readouterr().out
    remote = fake_backend(local=False)
    tasks.approve(context(), "3", status="Rejected")
    assert remote.calls == ["approve 3 Rejected"]


def test_report_prints_what_the_backend_wrote_and_fails_without_a_report(fake_backend: Callable[..., _Backend], capsys: Any) -> None:
    fake_backend(local=False, report=ReportRecord(version=4, location="s3://lake/r/index.html", lines=("report of model version 4",)))
    tasks.report(context())
    assert capsys.readouterr().out == "report of model version 4\n"
    missing = fake_backend(local=False, report=ReportRecord(version=4, location="", problem="the artifact is gone"))
    with pytest.raises(Exit, match="no report for model version 4: the artifact is gone") as caught:
        tasks.report(context(), version=4)
    assert caught.value.code == 1 and missing.calls == ["report 4"]


def test_teardown_all_needs_the_local_verbs(fake_backend: Callable[..., _Backend], capsys: Any) -> None:
    fake_backend(local=True)
    tasks.teardown(context(), all=True)
    assert capsys.readouterr().out == "stopped every endpoint\n"
    fake_backend(local=False)
    with pytest.raises(Exit, match="--all is for the local backend") as caught:
        tasks.teardown(context(), all=True)
    assert caught.value.code == 2


def test_no_task_asks_which_backend_it_holds() -> None:
    source = (ROOT / "tasks.py").read_text(encoding="utf-8")
    for telltale in ("isinstance(", "LocalBackend", "SageMakerBackend", '== "local"', '== "sagemaker"', 'backend: str = "local"'):
        assert telltale not in source, telltale


def test_bench_target_runs_the_named_benchmark_with_its_own_flags(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from tools.bench import capacity

    seen: list[tuple[tuple[int, ...], float]] = []

    def measured(*, root: Path, steps: tuple[int, ...], duration_s: float) -> str:
        seen.append((steps, duration_s))
        return "capacity table\n"

    monkeypatch.setattr(capacity, "run_capacity_bench", measured)
    bench_tasks.run(context(), target="capacity", clients="64,128", quick=True, rows=5)  # rows: not capacity's flag
    assert seen == [((64, 128), 2)] and capsys.readouterr().out == "capacity table\n"
    with pytest.raises(Exit, match="--target must be one of serving, transform, monitor, capture, recovery, capacity, console, not 'gpu'"):
        bench_tasks.run(context(), target="gpu")
    with pytest.raises(Exit, match="--clients takes whole numbers"):
        bench_tasks.capacity(context(), clients="many")
