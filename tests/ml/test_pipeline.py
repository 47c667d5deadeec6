"""``invoke pipeline``: the buildspecs' own commands, retargeted at the local backend, in order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.backends.local.backend import LocalBackend
from ml.backends.local.clock import now_iso
from ml.backends.records import TrainingJob
from ml.config import load_config
from ml.errors import JobFailedError, UserInputError
from ml.pipeline import buildspec_commands, run_pipeline

REPO = Path(__file__).resolve().parents[2]


def test_the_real_buildspecs_become_local_invoke_commands() -> None:
    build = buildspec_commands(REPO / "buildspecs" / "build.yml")
    deploy = buildspec_commands(REPO / "buildspecs" / "deploy.yml", variables={"DEPLOY_MODE": "update"})
    train = buildspec_commands(REPO / "buildspecs" / "train.yml")
    for command in (*build, *deploy, *train):
        assert command[0] == "invoke"
        assert command[command.index("--backend") + 1] == "local"
        assert "sagemaker" not in command
    assert [c[1] for c in (*build, *train, *deploy)] == ["build-image", "train", "report", "deploy"]
    assert deploy[0][deploy[0].index("--mode") + 1] == "update"


def test_deploy_mode_defaults_to_the_buildspecs_variable() -> None:
    deploy = buildspec_commands(REPO / "buildspecs" / "deploy.yml")
    assert deploy[0][deploy[0].index("--mode") + 1] == "endpoint"


def _project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "buildspecs", tmp_path / "buildspecs")
    shutil.copy(REPO / "cdktf.json", tmp_path / "cdktf.json")
    return tmp_path


def _register_pending(root: Path, job_name: str = "job-1") -> None:
    """What the train stage leaves behind: one PendingManualApproval version."""
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    job = TrainingJob(name=job_name, status="Completed", created_at=now_iso(), artifact_uri=str(root / "m.tar.gz"))
    backend.registry.register(job=job, approval_status="PendingManualApproval")


def test_stages_run_in_order_and_approval_is_recorded(tmp_path: Path) -> None:
    root = _project(tmp_path)
    ran: list[list[str]] = []
    lines: list[str] = []

    def runner(command: list[str], cwd: Path, emit: object) -> int:
        ran.append(command)
        if command[1] == "train":
            _register_pending(cwd)
        return 0

    run_pipeline(root=root, mode="update", approve=True, emit=lines.append, runner=runner, interactive=False)
    assert [c[1] for c in ran] == ["build-image", "train", "report", "deploy", "test-endpoint"]
    assert any("approved model version 1" in line for line in lines)
    assert any(line.startswith("[3/5] approval done in") for line in lines)
    version = LocalBackend(config=load_config(root / "cdktf.json"), root=root).list_versions()[0]
    assert version.approval_status == "Approved" and version.approvals[-1].note == "approved with invoke pipeline --approve"


def test_a_second_run_approves_the_version_it_trained_not_the_first(tmp_path: Path) -> None:
    # The second run of the pipeline: version 1 is already Approved and serving; the train stage
    # just registered version 2. Versions list newest first, and the approval must find 2.
    root = _project(tmp_path)
    _register_pending(root, "job-1")
    LocalBackend(config=load_config(root / "cdktf.json"), root=root).approve(version=1, note="first run")

    def runner(command: list[str], cwd: Path, emit: object) -> int:
        if command[1] == "train":
            _register_pending(cwd, "job-2")
        return 0

    lines: list[str] = []
    run_pipeline(root=root, mode="endpoint", approve=True, emit=lines.append, runner=runner, interactive=False)
    assert any("approved model version 2" in line for line in lines), lines
    statuses = {v.version: v.approval_status for v in LocalBackend(config=load_config(root / "cdktf.json"), root=root).list_versions()}
    assert statuses == {1: "Approved", 2: "Approved"}


def test_without_a_terminal_or_approve_the_pipeline_stops_before_deploy(tmp_path: Path) -> None:
    root = _project(tmp_path)
    ran: list[str] = []

    def runner(command: list[str], cwd: Path, emit: object) -> int:
        ran.append(command[1])
        if command[1] == "train":
            _register_pending(cwd)
        return 0

    with pytest.raises(UserInputError, match="awaits approval and no terminal is attached; rerun with --approve"):
        run_pipeline(root=root, emit=lambda _l: None, runner=runner, interactive=False)
    assert "deploy" not in ran


def test_answering_no_at_the_prompt_rejects_the_version(tmp_path: Path) -> None:
    root = _project(tmp_path)

    def runner(command: list[str], cwd: Path, emit: object) -> int:
        if command[1] == "train":
            _register_pending(cwd)
        return 0

    with pytest.raises(UserInputError, match="rejected at the prompt"):
        run_pipeline(root=root, emit=lambda _l: None, runner=runner, interactive=True, ask=lambda _q: "n")
    version = LocalBackend(config=load_config(root / "cdktf.json"), root=root).list_versions()[0]
    assert version.approval_status == "Rejected"


def test_a_failing_command_names_its_stage(tmp_path: Path) -> None:
    root = _project(tmp_path)
    with pytest.raises(JobFailedError, match=r"pipeline stage build failed: `invoke build-image --backend local` exited 2"):
        run_pipeline(root=root, emit=lambda _l: None, runner=lambda c, r, e: 2, interactive=False)


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="--mode must be endpoint, transform or update"):
        run_pipeline(root=tmp_path, mode="blue")
