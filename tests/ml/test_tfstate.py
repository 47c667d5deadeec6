"""Stack outputs from Terraform state version 4, in local files and in the S3 backend."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml.config import ProjectConfig, load_config
from ml.errors import NotFoundError, StateError
from ml.names import STACKS, local_state_path, outputs_variable
from ml.tfstate import REQUIRED_OUTPUTS, StackOutputs, outputs_table, read_stack_outputs

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_STATE_BUCKET = "byoc-test-tfstate"
TEST_OUTPUTS: dict[str, dict[str, Any]] = {
    "BuildPipelineStack": {
        "ecr_repository_url": "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-byo",
        "ecr_repository_name": "sagemaker-scikit-byo",
        "ecr_repository_arn": "arn:aws:ecr:us-east-1:000000000000:repository/sagemaker-scikit-byo",
        "build_repo_clone_url_http": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/build-scikit-byo",
        "build_pipeline_name": "build-scikit-byo",
        "build_notifications_topic_arn": "arn:aws:sns:us-east-1:000000000000:build-notifications",
    },
    "TrainPipelineStack": {
        "datalake_bucket": "scikit-byo-datalake",
        "sagemaker_role_arn": "arn:aws:iam::000000000000:role/scikit-byo-sagemaker",
        "datalake_key_arn": "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "model_package_group": "scikit-byo",
        "train_repo_clone_url_http": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/train-scikit-byo",
        "train_pipeline_name": "train-scikit-byo",
        "artifact_bucket": "scikit-byo-artifacts",
    },
    "DeployPipelineStack": {
        "approval_topic_arn": "arn:aws:sns:us-east-1:000000000000:approval",
        "deploy_repo_clone_url_http": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/deploy-scikit-byo",
        "deploy_pipeline_name": "deploy-scikit-byo",
        "endpoint_name": "scikit-byo-endpoint",
        "alarm_names": ["scikit-byo-endpoint-5xx", "scikit-byo-endpoint-p99"],
    },
}


def state_document(outputs: dict[str, Any], *, version: int = 4, sensitive: tuple[str, ...] = ()) -> str:
    """A state file as Terraform 1.x writes it (version 4), with typed outputs."""

    def typed(value: Any) -> Any:
        return ["list", "string"] if isinstance(value, list) else "string"

    body = {
        "version": version,
        "terraform_version": "1.9.8",
        "serial": 7,
        "lineage": "0b6a3a1e-1d2c-4c7e-9a55-3f0f5f5f0c11",
        "outputs": {
            name: {"value": value, "type": typed(value), **({"sensitive": True} if name in sensitive else {})}
            for name, value in outputs.items()
        },
        "resources": [
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "datalake",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 0, "attributes": {"bucket": "scikit-byo-datalake"}}],
            }
        ],
        "check_results": None,
    }
    return json.dumps(body, indent=2)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def no_outputs_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for stack in STACKS:
        monkeypatch.delenv(outputs_variable(stack), raising=False)


@pytest.fixture
def local_config() -> ProjectConfig:
    return load_config(REPO_ROOT / "cdktf.json", overrides={"state_backend": "local"})


@pytest.fixture
def s3_config() -> ProjectConfig:
    return load_config(REPO_ROOT / "cdktf.json", overrides={"state_backend": "s3", "state_bucket": TEST_STATE_BUCKET})


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=TEST_STATE_BUCKET)
        yield client


def write_local(root: Path, config: ProjectConfig, stacks: tuple[str, ...] = STACKS) -> None:
    for stack in stacks:
        (root / local_state_path(stack)).write_text(state_document(TEST_OUTPUTS[stack]), encoding="utf-8")


def test_reads_typed_outputs_from_local_state(tmp_path: Path, local_config: ProjectConfig) -> None:
    write_local(tmp_path, local_config)
    outputs = read_stack_outputs(local_config, root=tmp_path)
    assert outputs.datalake_bucket == "scikit-byo-datalake"
    assert outputs.ecr_repository_url.endswith("/sagemaker-scikit-byo")
    assert outputs.sagemaker_role_arn.endswith(":role/scikit-byo-sagemaker")
    assert outputs.alarm_names == ("scikit-byo-endpoint-5xx", "scikit-byo-endpoint-p99")
    assert outputs.notification_topic_arns == {"build": "arn:aws:sns:us-east-1:000000000000:build-notifications"}


def test_missing_stack_names_the_stack_to_deploy_when_used(tmp_path: Path, local_config: ProjectConfig) -> None:
    write_local(tmp_path, local_config, stacks=("BuildPipelineStack", "DeployPipelineStack"))
    outputs = read_stack_outputs(local_config, root=tmp_path)
    assert outputs.ecr_repository_name == "sagemaker-scikit-byo"  # the stacks that exist are usable
    with pytest.raises(NotFoundError, match="`cdktf deploy TrainPipelineStack`"):
        _ = outputs.datalake_bucket


def test_missing_output_names_the_output_and_stack(tmp_path: Path, local_config: ProjectConfig) -> None:
    write_local(tmp_path, local_config)
    partial = {k: v for k, v in TEST_OUTPUTS["DeployPipelineStack"].items() if k != "alarm_names"}
    (tmp_path / local_state_path("DeployPipelineStack")).write_text(state_document(partial), encoding="utf-8")
    with pytest.raises(NotFoundError, match=r"'alarm_names'.*cdktf deploy DeployPipelineStack"):
        read_stack_outputs(local_config, root=tmp_path)


def test_destroyed_stack_has_no_outputs(tmp_path: Path, local_config: ProjectConfig) -> None:
    write_local(tmp_path, local_config)
    (tmp_path / local_state_path("BuildPipelineStack")).write_text(state_document({}), encoding="utf-8")
    with pytest.raises(NotFoundError, match="cdktf deploy BuildPipelineStack"):
        read_stack_outputs(local_config, root=tmp_path)


def test_old_state_format_is_refused(tmp_path: Path, local_config: ProjectConfig) -> None:
    write_local(tmp_path, local_config)
    (tmp_path / local_state_path("TrainPipelineStack")).write_text(
        state_document(TEST_OUTPUTS["TrainPipelineStack"], version=3), encoding="utf-8"
    )
    with pytest.raises(StateError, match="version 3"):
        read_stack_outputs(local_config, root=tmp_path)


def test_reads_outputs_from_the_s3_backend(tmp_path: Path, s3_config: ProjectConfig, s3: Any) -> None:
    for stack in STACKS:
        s3.put_object(Bucket=TEST_STATE_BUCKET, Key=s3_config.remote_state_key(stack), Body=state_document(TEST_OUTPUTS[stack]).encode())
    outputs = read_stack_outputs(s3_config, root=tmp_path, s3_client=s3)
    assert outputs.model_package_group == "scikit-byo"
    assert outputs.endpoint_name == "scikit-byo-endpoint"


def test_missing_s3_state_names_the_stack(tmp_path: Path, s3_config: ProjectConfig, s3: Any) -> None:
    body = state_document(TEST_OUTPUTS["BuildPipelineStack"]).encode()
    s3.put_object(Bucket=TEST_STATE_BUCKET, Key=s3_config.remote_state_key("BuildPipelineStack"), Body=body)
    outputs = read_stack_outputs(s3_config, root=tmp_path, s3_client=s3)
    with pytest.raises(NotFoundError, match=rf"s3://{TEST_STATE_BUCKET}/sagemaker-byoc/.*cdktf deploy TrainPipelineStack"):
        _ = outputs.datalake_bucket


def test_empty_s3_state_fails_at_once(tmp_path: Path, s3_config: ProjectConfig, s3: Any) -> None:
    s3.put_object(Bucket=TEST_STATE_BUCKET, Key=s3_config.remote_state_key("BuildPipelineStack"), Body=state_document({}).encode())
    with pytest.raises(NotFoundError, match="cdktf deploy BuildPipelineStack"):
        read_stack_outputs(s3_config, root=tmp_path, s3_client=s3)


def test_table_lists_outputs_masks_secrets_and_shows_missing_stacks(tmp_path: Path, local_config: ProjectConfig) -> None:
    values = {**TEST_OUTPUTS["BuildPipelineStack"], "secret_token": "hunter2"}
    (tmp_path / local_state_path("BuildPipelineStack")).write_text(state_document(values, sensitive=("secret_token",)), encoding="utf-8")
    table = outputs_table(local_config, root=tmp_path)
    lines = table.splitlines()
    assert lines[0].split() == ["STACK", "OUTPUT", "VALUE"]
    assert any(line.split()[:3] == ["BuildPipelineStack", "build_pipeline_name", "build-scikit-byo"] for line in lines)
    assert "hunter2" not in table and "(sensitive)" in table
    assert "run `cdktf deploy TrainPipelineStack`" in table
    assert "run `cdktf deploy DeployPipelineStack`" in table


def test_environment_outputs_come_before_state(tmp_path: Path, local_config: ProjectConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    write_local(tmp_path, local_config)
    in_codebuild = {**TEST_OUTPUTS["TrainPipelineStack"], "datalake_bucket": "from-the-environment"}
    monkeypatch.setenv("BYOC_OUTPUTS_TRAINPIPELINESTACK", json.dumps(in_codebuild))
    outputs = read_stack_outputs(local_config, root=tmp_path)
    assert outputs.datalake_bucket == "from-the-environment"
    assert outputs.endpoint_name == "scikit-byo-endpoint"  # the other stacks still come from state


def test_codebuild_train_project_needs_no_state(tmp_path: Path, local_config: ProjectConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the train project carries: Build and Train, no state files anywhere.
    for stack in ("BuildPipelineStack", "TrainPipelineStack"):
        monkeypatch.setenv(f"BYOC_OUTPUTS_{stack.upper()}", json.dumps(TEST_OUTPUTS[stack]))
    outputs = read_stack_outputs(local_config, root=tmp_path)
    assert outputs.model_package_group == "scikit-byo"
    assert outputs.ecr_repository_url.endswith("/sagemaker-scikit-byo")
    with pytest.raises(NotFoundError, match="cdktf deploy DeployPipelineStack"):
        _ = outputs.alarm_names


def test_environment_is_read_through_the_injected_mapping(tmp_path: Path, s3_config: ProjectConfig) -> None:
    environ = {f"BYOC_OUTPUTS_{stack.upper()}": json.dumps(TEST_OUTPUTS[stack]) for stack in STACKS}
    outputs = read_stack_outputs(s3_config, root=tmp_path, environ=environ)  # no S3 client needed
    assert outputs.alarm_names == ("scikit-byo-endpoint-5xx", "scikit-byo-endpoint-p99")


@pytest.mark.parametrize("value", ["{not json", "[1, 2]"])
def test_malformed_environment_outputs_name_the_variable(
    tmp_path: Path, local_config: ProjectConfig, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    write_local(tmp_path, local_config)
    monkeypatch.setenv("BYOC_OUTPUTS_BUILDPIPELINESTACK", value)
    with pytest.raises(StateError, match="BYOC_OUTPUTS_BUILDPIPELINESTACK"):
        read_stack_outputs(local_config, root=tmp_path)


def test_environment_outputs_missing_an_output_fail_now(
    tmp_path: Path, local_config: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = {k: v for k, v in TEST_OUTPUTS["DeployPipelineStack"].items() if k != "alarm_names"}
    monkeypatch.setenv("BYOC_OUTPUTS_DEPLOYPIPELINESTACK", json.dumps(partial))
    write_local(tmp_path, local_config)
    with pytest.raises(NotFoundError, match="'alarm_names'"):
        read_stack_outputs(local_config, root=tmp_path)


def test_table_shows_environment_outputs(tmp_path: Path, local_config: ProjectConfig) -> None:
    environ = {"BYOC_OUTPUTS_BUILDPIPELINESTACK": json.dumps(TEST_OUTPUTS["BuildPipelineStack"])}
    table = outputs_table(local_config, root=tmp_path, environ=environ)
    assert "build-scikit-byo" in table
    assert "(not deployed: run `cdktf deploy TrainPipelineStack`)" in table


class _DeniedS3:
    """An S3 client for a role with s3:GetObject only: a missing key reads as AccessDenied."""

    def get_object(self, **_: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")


def test_unreadable_state_of_an_unused_stack_fails_only_on_use(
    tmp_path: Path, s3_config: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stack in ("BuildPipelineStack", "TrainPipelineStack"):
        monkeypatch.setenv(f"BYOC_OUTPUTS_{stack.upper()}", json.dumps(TEST_OUTPUTS[stack]))
    outputs = read_stack_outputs(s3_config, root=tmp_path, s3_client=_DeniedS3())
    assert outputs.datalake_bucket == "scikit-byo-datalake"
    with pytest.raises(NotFoundError, match="grant s3:GetObject"):
        _ = outputs.endpoint_name


def test_stack_outputs_has_a_field_for_each_required_output_and_no_other() -> None:
    fields = {f.name for f in dataclasses.fields(StackOutputs)} - {"notification_topic_arns", "unavailable"}
    assert fields == {name.value for names in REQUIRED_OUTPUTS.values() for name in names}
