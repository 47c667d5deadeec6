"""Every settled deploy appends to the endpoint's deployment history tag: the monitor attributes records by it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from ml.backends.sagemaker import deployments
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.errors import DeployRolledBackError

ENDPOINT = "scikit-byo-endpoint"


def _approved(backend: SageMakerBackend, count: int) -> list[int]:
    made = []
    for depth in range(count):
        job = backend.train(hyperparameters={"max_depth": str(depth + 2)})
        made.append(backend.approve(version=backend.register(job_name=job.name).version).version)
    return made


def test_create_update_and_a_rolled_back_update_each_record_who_serves_after(backend: SageMakerBackend, sm: Any) -> None:
    v1, v2, v3 = _approved(backend, 3)
    before = datetime.now(UTC).replace(microsecond=0)
    backend.deploy_endpoint(endpoint_name=ENDPOINT, version=v1)
    backend.update_endpoint(endpoint_name=ENDPOINT, version=v2)
    sm.outcome = "rollback"
    with pytest.raises(DeployRolledBackError):
        backend.update_endpoint(endpoint_name=ENDPOINT, version=v3)
    history = deployments.history_of(sm, ENDPOINT)
    assert [d.version for d in history] == [v1, v2, v2]  # the rolled-back update leaves v2 serving
    after = datetime.now(UTC)
    for earlier, later in itertools.pairwise(history):
        assert earlier.settled <= later.start  # one deploy at a time: windows never overlap
    assert all(before <= d.start <= d.settled <= after for d in history)
    arn = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["byoc:endpoint"] == ENDPOINT  # the endpoint's other tags are kept
    assert deployments.parse(tags[deployments.TAG_DEPLOYMENTS]) == history


def test_a_no_op_update_records_nothing_and_a_gone_endpoint_has_no_history(backend: SageMakerBackend, sm: Any) -> None:
    (v1,) = _approved(backend, 1)
    backend.deploy_endpoint(endpoint_name=ENDPOINT, version=v1)
    backend.update_endpoint(endpoint_name=ENDPOINT, version=v1)  # already serves it
    assert [d.version for d in deployments.history_of(sm, ENDPOINT)] == [v1]
    backend.teardown(endpoint_name=ENDPOINT)
    assert deployments.history_of(sm, ENDPOINT) == ()
