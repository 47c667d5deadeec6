"""Image push, session wiring, error translation, traffic routing and invoke."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ml.backends.base import BlueGreenPolicy
from ml.backends.sagemaker import images
from ml.backends.sagemaker.aws_errors import aws_call
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.bluegreen import deployment_config, traffic_routing
from ml.backends.sagemaker.clients import AwsClients
from ml.errors import AwsError, UserInputError
from ml.names import local_state_path
from ml.tfstate import REQUIRED_OUTPUTS


def write_all_state(root: Path, config: Any) -> None:
    """Minimal version-4 state files with every required output of every stack."""
    for stack, names in REQUIRED_OUTPUTS.items():
        outputs = {n: {"value": ["alarm-a"] if n == "alarm_names" else f"{n}-value", "type": "string"} for n in names}
        outputs["model_package_group"] = {"value": "scikit-byo", "type": "string"}
        document = {"version": 4, "terraform_version": "1.9.8", "serial": 1, "lineage": "x", "outputs": outputs, "resources": []}
        (root / local_state_path(stack)).write_text(json.dumps(document), encoding="utf-8")


def _policy(traffic: str, step: int = 20) -> BlueGreenPolicy:
    return BlueGreenPolicy(
        traffic=traffic, step_percent=step, wait_seconds=60, baking_seconds=120, error_rate_percent=1.0, p99_latency_ms=200
    )


def test_detect_builder_prefers_a_working_docker() -> None:
    def no_daemon(argv: Sequence[str], stdin: str | None) -> str:
        raise UserInputError("Cannot connect to the Docker daemon")

    present = {"docker", "buildah"}
    assert images.detect_builder(lambda n: n if n in present else None, lambda a, s: "") == "docker"
    assert images.detect_builder(lambda n: n if n in present else None, no_daemon) == "buildah"
    with pytest.raises(UserInputError, match="install docker, podman or buildah"):
        images.detect_builder(lambda n: None, no_daemon)


def test_from_project_reads_state_and_sets_retries(config: Any, tmp_path: Path, clients: AwsClients) -> None:
    write_all_state(tmp_path, config)
    backend = SageMakerBackend.from_project(config=config, root=tmp_path, retry_mode="adaptive")
    assert backend.outputs.model_package_group == "scikit-byo"
    assert backend.clients.sagemaker.meta.config.retries["mode"] == "adaptive"
    assert backend.clients.sagemaker.meta.region_name == "us-east-1"


def test_access_denied_names_the_permission() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("describe_training_job", service_error_code="AccessDeniedException", service_message="not authorized")
        with pytest.raises(AwsError, match=r"grant `sagemaker:DescribeTrainingJob`") as denied, aws_call(service="sagemaker", action="x"):
            client.describe_training_job(TrainingJobName="job")
    assert isinstance(denied.value.__cause__, ClientError)


def test_missing_image_says_to_build_it() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    message = "Requested image 1.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:ab does not exist."
    with Stubber(client) as stub:
        stub.add_client_error("create_model", service_error_code="ValidationException", service_message=message)
        with pytest.raises(AwsError, match="invoke build-image"), aws_call(service="sagemaker", action="creating model"):
            client.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::000000000000:role/r")


def test_traffic_routing_shapes_and_limits() -> None:
    assert traffic_routing(_policy("ALL_AT_ONCE")) == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 60}
    assert traffic_routing(_policy("LINEAR"))["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    with pytest.raises(UserInputError, match="bluegreen_step_percent"):
        traffic_routing(_policy("CANARY", step=60))
    assert "AutoRollbackConfiguration" not in deployment_config(_policy("LINEAR"), ())


def test_invoke_returns_the_body_and_variant(backend: SageMakerBackend) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    backend.clients = AwsClients(
        sagemaker=backend.clients.sagemaker,
        runtime=runtime,
        s3=backend.clients.s3,
        ecr=backend.clients.ecr,
        logs=backend.clients.logs,
        autoscaling=backend.clients.autoscaling,
        cloudwatch=backend.clients.cloudwatch,
        events=backend.clients.events,
    )
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(b"setosa\n"), 7), "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic"},
            {"EndpointName": "scikit-byo-endpoint", "Body": b"5.1,3.5,1.4,0.2", "ContentType": "text/csv", "Accept": "text/csv"},
        )
        reply = backend.invoke(endpoint_name="scikit-byo-endpoint", body=b"5.1,3.5,1.4,0.2")
    assert reply.body == b"setosa\n" and reply.variant == "AllTraffic" and reply.status_code == 200
