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
    "describe", "restore", "teardown", "pipeline", "lifecycle", "rehearse", "monitor", "synth", "outputs", "bench", "check",
    "preflight", "destroy",
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
