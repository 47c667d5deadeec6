"""Failures end with JobFailedError and the reason (defect 12), a Failed endpoint does not block
the pipeline (defect 11), and teardown removes the transform models too (defect 13)."""

from __future__ import annotations

from typing import Any

import pytest
from sagemaker_fakes import record_calls

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.errors import ByocError, JobFailedError

ENDPOINT = "scikit-byo-endpoint"


def _approved(backend: SageMakerBackend, count: int = 1) -> list[int]:
    made = []
    for depth in range(count):
        job = backend.train(hyperparameters={"max_depth": str(depth + 2)})
        version = backend.register(job_name=job.name).version
        backend.approve(version=version)
        made.append(version)
    return made


def _transforms(sm: Any) -> Any:
    return sm.real  # EndpointFake wraps TransformStatusFake


@pytest.mark.parametrize(("outcome", "reason"), [("Failed", "ClientError: bad CSV row 3"), ("Stopped", "Stopped by user")])
def test_transform_that_does_not_complete_fails_with_its_reason(backend: SageMakerBackend, sm: Any, outcome: str, reason: str) -> None:
    _approved(backend)
    _transforms(sm).outcome, _transforms(sm).reason = outcome, reason
    with pytest.raises(JobFailedError, match=f"ended {outcome}: {reason}") as failed:
        backend.transform()
    assert isinstance(failed.value, ByocError)  # the tasks' wrapper turns it into exit status 1
    # A re-run starts a new attempt instead of reporting the failed job again.
    _transforms(sm).outcome = "Completed"
    again = backend.transform()
    assert again.status == "Completed" and again.name.endswith("-a2")


def test_endpoint_creation_that_fails_raises_with_the_reason(backend: SageMakerBackend, sm: Any) -> None:
    _approved(backend)
    sm.create_outcome = "failed"
    with pytest.raises(JobFailedError, match="is Failed: The primary container .* did not pass the ping health check"):
        backend.deploy_endpoint(endpoint_name=ENDPOINT)


@pytest.mark.parametrize("mode", ["endpoint", "update"])
def test_failed_endpoint_is_deleted_and_created_again(backend: SageMakerBackend, sm: Any, clients: Any, mode: str) -> None:
    created = record_calls(clients.sagemaker, "CreateEndpoint")
    [v1] = _approved(backend)
    sm.create_outcome = "failed"
    with pytest.raises(JobFailedError):
        backend.deploy_endpoint(endpoint_name=ENDPOINT)
    sm.create_outcome = "success"
    lines: list[str] = []
    backend.on_log = lines.append
    deploy = backend.deploy_endpoint if mode == "endpoint" else backend.update_endpoint
    endpoint = deploy(endpoint_name=ENDPOINT)
    assert endpoint.status == "InService" and endpoint.version == v1
    assert sm.deleted == [ENDPOINT] and len(created) == 2 and sm.updates == []
    assert any("is Failed" in line and "deleted and created again" in line for line in lines)


def test_endpoint_in_a_transitional_state_is_waited_for_then_updated(backend: SageMakerBackend, sm: Any, clock: Any) -> None:
    _v1, v2 = _approved(backend, 2)
    backend.deploy_endpoint(endpoint_name=ENDPOINT, version=1)
    sm.script(ENDPOINT, ["SystemUpdating", "SystemUpdating", "InService"])  # maintenance: no update until it ends
    before = clock.now
    endpoint = backend.deploy_endpoint(endpoint_name=ENDPOINT)
    assert clock.now > before  # it waited for the first Updating to settle
    assert endpoint.version == v2 and sm.deleted == [] and len(sm.updates) == 1


def test_teardown_removes_the_transform_models_too(backend: SageMakerBackend, clients: Any, outputs: Any) -> None:
    _approved(backend)
    backend.deploy_endpoint(endpoint_name=ENDPOINT)
    backend.transform()
    clients.sagemaker.create_model(
        ModelName="scikit-byo-transform-someone-else",
        ExecutionRoleArn=outputs.sagemaker_role_arn,
        PrimaryContainer={"Image": "example.invalid/other@sha256:" + "0" * 64},
    )
    deleted = backend.teardown()
    assert sum(d.startswith("model/scikit-byo-transform-v1-") for d in deleted) == 1
    remaining = [m["ModelName"] for m in clients.sagemaker.list_models()["Models"]]
    assert remaining == ["scikit-byo-transform-someone-else"]


def test_teardown_keeps_a_model_a_running_transform_uses(backend: SageMakerBackend, sm: Any, clients: Any) -> None:
    _approved(backend)
    _transforms(sm).outcome = "Stopped"  # scripted InProgress, InProgress→Stopping..., a live job meanwhile
    calls = record_calls(clients.sagemaker, "CreateTransformJob")
    with pytest.raises(JobFailedError):
        backend.transform()
    [job] = calls
    _transforms(sm).hold(job["TransformJobName"])  # as if it were still running
    deleted = backend.teardown()
    assert not any(d.startswith("model/") for d in deleted)
    assert [m["ModelName"] for m in clients.sagemaker.list_models()["Models"]] == [job["ModelName"]]
