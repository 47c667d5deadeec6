"""The invoke tasks: thin, documented, and user errors become messages with a non-zero exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.context import MockContext
from invoke.exceptions import Exit
from invoke.runners import Result

import tasks

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_TASKS = {
    "data", "build-image", "train", "approve", "report", "versions", "deploy", "test-endpoint", "rollback",
    "describe", "restore", "teardown", "pipeline", "lifecycle", "rehearse", "monitor", "synth", "outputs", "bench", "mutation", "check",
}  # fmt: skip


def test_every_task_is_listed_with_a_description() -> None:
    listing = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in EXPECTED_TASKS:
        line = next((row for row in listing.splitlines() if row.strip().startswith(name + " ")), "")
        assert len(line.split(None, 1)) == 2, f"{name} has no description in `invoke --list`"
    assert {t.replace("_", "-") for t in tasks.ns.tasks} == EXPECTED_TASKS


def test_check_runs_every_gate_in_order() -> None:
    ctx = MockContext(
        run={"ruff check .": Result(), "ruff format --check .": Result(), "mypy": Result(), f"{sys.executable} -m pytest": Result()}
    )
    tasks.check(ctx)
    commands = [call.args[0] for call in ctx.run.call_args_list]  # type: ignore[attr-defined]
    assert commands == ["ruff check .", "ruff format --check .", "mypy", f"{sys.executable} -m pytest"]


def test_user_error_becomes_exit_with_message() -> None:
    with pytest.raises(Exit) as caught:
        tasks.train(MockContext(), hyperparameter=["max_depth"])
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
        ("teardown", [], {"all": True, "backend": "sagemaker"}, 2, "--all is for the local backend"),
        ("test_endpoint", [], {"rows": 0}, 1, "--rows must be at least 1"),
        ("train", [], {"hyperparameter": ["max_depth"]}, 1, "must look like NAME=VALUE"),
        ("monitor", [], {"hours": -1.0}, 1, "--hours must be positive"),
        ("monitor", [], {"since": "2026-11-28T05:00", "hours": 1.0}, 1, "give --since or --hours, not both"),
        ("monitor", [], {"until": "yesterday"}, 1, "--until 'yesterday' is not a time"),
        ("bench", [], {"target": "nope"}, 2, "--target must be serving, transform, monitor, capture, recovery or capacity"),
        ("bench", [], {"target": "capacity", "clients": "64,lots"}, 2, "--clients must be rising client counts"),
        ("bench", [], {"target": "transform", "rows": 0}, 2, "--rows and --rounds must be at least 1"),
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
    with pytest.raises(Exit) as caught:
        getattr(tasks, task)(MockContext(), *args, **flags)
    assert caught.value.code == code
    assert message in str(caught.value.message)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(Exit, match="unknown backend 'azure'"):
        tasks.build_image(MockContext(), backend="azure")


def test_approve_takes_the_version_as_text_and_checks_it() -> None:
    with pytest.raises(Exit) as caught:
        tasks.approve(MockContext(), "v3")
    assert caught.value.code == 2
    assert "model version number" in str(caught.value.message)


def test_approve_from_the_command_line_reaches_the_registry(tmp_path: Path) -> None:
    # Through invoke's own parser, as a user types it: the version arrives as text. In a scratch
    # project (tasks.py, cdktf.json, a link to ml/): the local state must not land in the checkout.
    for name in ("tasks.py", "cdktf.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "ml").symlink_to(ROOT / "ml")
    result = subprocess.run([sys.executable, "-m", "invoke", "approve", "999"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "version 999" in result.stderr
    assert "Traceback" not in result.stderr
