"""The whole lifecycle for real in a scratch project, and every error a new user can hit."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from local_helpers import Project, add_version, fixture_versions, make_backend

from ml.backends.local import procs
from ml.backends.local.programs import Launch, ProcessPrograms
from ml.backends.local.training import run_training
from ml.errors import JobFailedError, NotFoundError, UserInputError


def test_lifecycle_records_lineage_serves_and_tears_down_only_its_processes(trained: Project) -> None:
    first, second = fixture_versions(trained)
    assert first.artifact_sha256 and Path(first.artifact_uri).name == "model.tar.gz"
    assert first.lineage.data_version and first.lineage.image.startswith("program:sha256:")
    assert [a.status for a in first.approvals] == ["PendingManualApproval", "Approved"]
    assert first.metrics and all(isinstance(v, float) for v in first.metrics.values())
    endpoint = trained.backend.deploy_endpoint(endpoint_name="life")
    newest_approved = max(v.version for v in trained.backend.list_versions() if v.approval_status == "Approved")
    assert (endpoint.status, endpoint.version) == ("InService", newest_approved)
    answer = trained.backend.invoke(endpoint_name="life", body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    assert (answer.status_code, answer.body.split()) == (200, [b"setosa", b"virginica"])
    record = trained.backend.store.get("endpoints", "life")
    assert record is not None
    folder = trained.backend.layout.endpoint_dir("life")
    assert len(procs.processes_under(folder)) >= 4  # supervisord, health checker, nginx master + worker, serve
    lines = trained.backend.teardown(endpoint_name="life")
    assert any("router" in line for line in lines) and "deleted endpoint life" in lines
    assert procs.processes_under(folder) == []  # the process table, not the recorded PIDs
    with pytest.raises(NotFoundError, match="does not exist"):
        trained.backend.describe_endpoint(endpoint_name="life")
    assert second.version == first.version + 1


def test_deploy_with_no_approved_model_says_how_to_approve(tmp_path: Path, trained: Project) -> None:
    backend = make_backend(tmp_path, trained.programs)
    job = backend.train(data=str(trained.data), hyperparameters={"max_depth": "2"})
    backend.register(job_name=job.name)
    with pytest.raises(NotFoundError, match=r"no approved model version to deploy; approve one with `invoke approve 1`"):
        backend.deploy_endpoint(endpoint_name="x")
    with pytest.raises(NotFoundError, match="no approved model version"):
        backend.transform(data=str(trained.data))


def test_deploy_with_nothing_registered_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="train and register one with `invoke train`"):
        make_backend(tmp_path).deploy_endpoint(endpoint_name="x")


def test_update_or_rollback_of_a_missing_endpoint_says_to_create_it(tmp_path: Path) -> None:
    backend = make_backend(tmp_path)
    for call in (lambda: backend.update_endpoint(endpoint_name="ghost"), lambda: backend.rollback(endpoint_name="ghost")):
        with pytest.raises(NotFoundError, match=r"endpoint 'ghost' does not exist.*invoke deploy --mode endpoint"):
            call()
    with pytest.raises(NotFoundError, match="does not exist or is not serving"):
        backend.invoke(endpoint_name="ghost", body=b"1,2,3,4\n")
    assert backend.teardown(endpoint_name="ghost") == ["endpoint 'ghost' does not exist; nothing to tear down"]


def test_approving_an_unknown_version_lists_the_known_ones(trained: Project) -> None:
    with pytest.raises(NotFoundError, match=r"model version 999 does not exist .*registered versions: 1, 2"):
        trained.backend.approve(version=999)
    with pytest.raises(UserInputError, match="Approved or Rejected"):
        trained.backend.approve(version=1, status="Maybe")


def test_deploying_a_rejected_or_unknown_version_is_refused(trained: Project) -> None:
    rejected = add_version(trained.backend, like_job=fixture_versions(trained)[0].training_job, approval_status="PendingManualApproval")
    trained.backend.approve(version=rejected.version, status="Rejected", note="worse")
    with pytest.raises(UserInputError, match=f"version {rejected.version} is Rejected"):
        trained.backend.deploy_endpoint(endpoint_name="x", version=rejected.version)
    with pytest.raises(NotFoundError, match="model version 4242 does not exist"):
        trained.backend.deploy_endpoint(endpoint_name="x", version=4242)


def test_rollback_with_no_earlier_version_says_so(trained: Project) -> None:
    trained.backend.deploy_endpoint(endpoint_name="twice", version=1)
    try:
        with pytest.raises(NotFoundError, match="no earlier version to roll back to"):
            trained.backend.rollback(endpoint_name="twice")
    finally:
        trained.backend.teardown(endpoint_name="twice")


def test_a_failing_training_job_is_recorded_failed_with_the_programs_reason(tmp_path: Path, trained: Project) -> None:
    backend = make_backend(tmp_path, trained.programs)
    with pytest.raises(JobFailedError, match="training job bad-job failed: AlgorithmError"):
        backend.train(data=str(trained.data), hyperparameters={"max_depth": "-3"}, job_name="bad-job")
    job = backend.describe_training_job(job_name="bad-job")
    assert job.status == "Failed" and "AlgorithmError" in job.failure_reason
    with pytest.raises(UserInputError, match="only a completed job's model can be registered"):
        backend.register(job_name="bad-job")


def test_training_data_that_does_not_exist_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist; pass a CSV file or folder with --data"):
        make_backend(tmp_path).train(data=str(tmp_path / "missing.csv"))


def test_a_tampered_artifact_is_never_served(tmp_path: Path, trained: Project) -> None:
    backend = make_backend(tmp_path, trained.programs)
    job = backend.train(data=str(trained.data), job_name="tamper")
    version = backend.register(job_name=job.name, approval_status="Approved")
    Path(job.artifact_uri).write_bytes(b"not the model")
    with pytest.raises(Exception, match="changed since it was registered"):
        backend.deploy_endpoint(endpoint_name="tampered", version=version.version)
    record = backend.store.get("endpoints", "tampered")
    assert record is not None and record["status"] == "Failed"


def test_image_runtime_without_a_built_image_says_to_build_one(tmp_path: Path, trained: Project) -> None:
    from local_helpers import make_config

    from ml.backends.local.backend import LocalBackend

    backend = LocalBackend(config=make_config(), root=tmp_path, runtime="image")
    with pytest.raises(UserInputError, match="invoke build-image"):
        backend.train(data=str(trained.data))
    with pytest.raises(UserInputError, match="--runtime must be process or image"):
        LocalBackend(config=make_config(), root=tmp_path, runtime="docker")


def test_process_build_image_records_the_program_hash(tmp_path: Path) -> None:
    record = make_backend(tmp_path).build_image()
    assert record.builder == "program" and record.digest.startswith("sha256:")
    assert record.digest == ProcessPrograms(code=Path(record.uri.removeprefix("program:"))).identity().removeprefix("program:")
    assert json.dumps(record.to_dict())


@dataclass(frozen=True)
class _SilentHang:
    """A train program that hangs without printing a line."""

    kind: str = "process"

    def train(self, *, base_dir: Path) -> Launch:
        return Launch(argv=[sys.executable, "-c", "import time; time.sleep(600)"], env={})

    def serve(self, *, base_dir: Path, port: int, workers: int, extra_env: Mapping[str, str]) -> Launch:
        raise NotImplementedError

    def identity(self) -> str:
        return "program:hang"


def test_a_training_job_that_hangs_silently_is_stopped_at_max_runtime(tmp_path: Path, trained: Project) -> None:
    backend = make_backend(tmp_path)
    with pytest.raises(JobFailedError, match=r"training job hung stopped: MaxRuntimeExceeded: ran past 1s"):
        run_training(
            store=backend.store,
            layout=backend.layout,
            programs=_SilentHang(),
            job_name="hung",
            hyperparameters={},
            data=trained.data,
            max_runtime_s=1,
            on_log=None,
        )
    assert backend.describe_training_job(job_name="hung").status == "Stopped"
    assert procs.processes_under(backend.layout.job_dir("hung")) == []


def test_teardown_stops_processes_the_records_never_saw(tmp_path: Path) -> None:
    # A run killed between starting a process and recording its PID: the working folder finds it.
    backend = make_backend(tmp_path)
    hang = [sys.executable, "-c", "import time; time.sleep(600)"]
    recorded_nowhere = [
        procs.spawn(hang, env={}, log=backend.layout.variant_dir("orphan", "v1-killed") / "serve.log"),
        procs.spawn(hang, env={}, log=backend.layout.router_dir("orphan") / "logs" / "nginx.out"),
    ]
    try:
        assert len(procs.processes_under(backend.layout.endpoint_dir("orphan"))) == 2
        lines = backend.teardown(endpoint_name="orphan")
        assert any(line.startswith("stopped 2 unrecorded process(es) of endpoint orphan") for line in lines), lines
        assert not any(procs.is_ours(p) for p in recorded_nowhere)
    finally:
        for proc in recorded_nowhere:
            procs.stop(proc)
