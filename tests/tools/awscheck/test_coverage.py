"""Permission coverage: every call each task makes, against the policy of whoever makes it.

The backend runs every task for real (moto and the scripted fakes underneath); each call is
mapped to its IAM action and resource ARNs per the Service Authorization Reference and checked
against the synthesized policies. A missing permission fails; an unused grant is listed, and
must be one of the justified ones below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from scenario import make_backend, prepare, real_artifact, run_every_task, stack_outputs

from ml.config import load_config
from tools.awscheck.calls import Call, CallRecorder
from tools.awscheck.coverage import Report, check
from tools.awscheck.evaluate import Statement, bucket_keys, bucket_policies, policy_statements, role_statements
from tools.awscheck.onbehalf import SAGEMAKER, autoscaling_calls, sagemaker_calls
from tools.awscheck.permissions import PermissionMapper
from tools.awscheck.synthesis import Synthesis

pytestmark = pytest.mark.synth

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
# Who runs each task on AWS: the CodeBuild project of the pipeline whose buildspec runs it
# (build-image: build; train and register: train; deploy modes: deploy), the deploy project for
# the operator tasks it is granted (test-endpoint, rollback, teardown), and a person with the
# approver policy for approve (a model version is approved by a human, not by a pipeline).
PRINCIPAL_OF_TASK = {
    "build-image": "build",
    "train": "train",
    "register": "train",
    "report": "train",  # the train buildspec's `invoke report --backend sagemaker`
    "approve": "approver",
    "deploy": "deploy",
    "test-endpoint": "deploy",
    "update": "deploy",
    "transform": "deploy",
    "rollback": "deploy",
    "teardown": "deploy",
    "monitor": "monitor",  # the deploy stack's monitor project, started by its schedule
}
# Granted, not used by any task, and why that is right: by statement id, or "<sid> <action>".
CODEBUILD_ITSELF = "CodeBuild itself (not the task): the build's log, the pipeline's artifacts, both under the stack key"
JUSTIFIED_UNUSED = {
    "WriteOwnLogs": CODEBUILD_ITSELF,
    "PipelineArtifactBucket": CODEBUILD_ITSELF,
    "PipelineArtifacts": CODEBUILD_ITSELF,
    "UseStackKey": CODEBUILD_ITSELF,
    "PullSource": "CodeBuild itself pulls the monitor project's source from the deploy repository (no pipeline artifact)",
    "RegisterModels sagemaker:CreateModelPackage": "the SAR's resource types of CreateModelPackage include the new version's ARN",
    "ReadWriteDataLake s3:AbortMultipartUpload": "SageMaker uploads model artifacts and transform output in parts; a failed part aborts",
    "PullBaseImageThroughCache": "buildah pulls the base image through the ECR pull-through cache with the registry login, not through"
    " boto3, so no recorded call uses it (the actions are the ECR User Guide's for pull-through cache: docs/aws-fidelity.md ECR-15)",
}


def principal_of(call: Call) -> str:
    return "sagemaker-execution" if call.via == SAGEMAKER else PRINCIPAL_OF_TASK[call.task]


def policies(synth: Synthesis) -> dict[str, list[Statement]]:
    def role(stack: str, path: str) -> list[Statement]:
        return role_statements(synth, stack, synth.by_path(stack, "aws_iam_role", path))

    approver = synth.by_path("TrainPipelineStack", "aws_iam_policy", "approver/policy")
    body = synth.resource("TrainPipelineStack", "aws_iam_policy", approver)
    return {
        "build": role("BuildPipelineStack", "build/role"),
        "train": role("TrainPipelineStack", "train/role"),
        "deploy": role("DeployPipelineStack", "deploy/role"),
        "monitor": role("DeployPipelineStack", "monitor/monitor/role"),
        "sagemaker-execution": role("TrainPipelineStack", "sagemaker/role"),
        "approver": policy_statements(synth, "TrainPipelineStack", body["policy"], "TrainPipelineStack/approver"),
    }


@pytest.fixture(scope="module")
def report(stacks: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    tmp_path = tmp_path_factory.mktemp("permissions")
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        env.delenv("AWS_PROFILE", raising=False)
        yield _report(stacks, tmp_path)


def _report(stacks: dict[str, Any], tmp_path: Path) -> Report:
    synth = Synthesis(stacks, region=REGION, account=ACCOUNT)
    merged: dict[str, Any] = {}
    for stack in stacks:
        merged.update(synth.outputs(stack))
    outputs = stack_outputs(merged)
    recorder = CallRecorder()
    artifact = real_artifact(tmp_path / "local-training")
    config = load_config(ROOT / "cdktf.json")
    with mock_aws():
        prepare(outputs, REGION, schedule_rule=config.monitor_schedule_rule)
        backend, sm = make_backend(config=config, outputs=outputs, root=tmp_path, recorder=recorder)
        run_every_task(backend, sm, recorder, outputs, artifact=artifact)
    extras = [extra for call in recorder.calls for extra in (*sagemaker_calls(call), *autoscaling_calls(call))]
    calls = [*recorder.calls, *extras]
    found = check(
        calls=calls,
        mapper=PermissionMapper(region=REGION, account=ACCOUNT),
        principal_of=principal_of,
        policies=policies(synth),
        bucket_policies=bucket_policies(synth),
        bucket_keys=bucket_keys(synth),
    )
    (tmp_path / "permission-report.txt").write_text(found.text(), encoding="utf-8")
    print(found.text())
    return found


def test_every_task_has_every_permission_it_needs(report: Report) -> None:
    assert report.calls > 50 and report.checked > 50
    assert [m.line() for m in report.missing] == []


def test_every_grant_is_used_or_justified(report: Report) -> None:
    sid = lambda u: u.where.rsplit("#", 1)[-1]  # noqa: E731
    unexplained = [u.line() for u in report.unused if sid(u) not in JUSTIFIED_UNUSED and f"{sid(u)} {u.action}" not in JUSTIFIED_UNUSED]
    assert unexplained == []


def test_every_task_ran_and_made_the_calls_that_matter(report: Report) -> None:
    # A scenario that silently skipped a step would prove nothing about that step's permissions.
    assert {task for task, _, _ in report.needed} == set(PRINCIPAL_OF_TASK)
    for task, principal, action in [
        ("build-image", "build", "ecr:PutImage"),
        ("train", "train", "sagemaker:CreateTrainingJob"),
        ("train", "train", "iam:PassRole"),
        ("train", "train", "logs:GetLogEvents"),
        ("train", "sagemaker-execution", "s3:PutObject"),
        ("register", "train", "sagemaker:CreateModelPackage"),
        ("register", "train", "ecr:PutImage"),
        ("approve", "approver", "sagemaker:UpdateModelPackage"),
        ("report", "train", "sagemaker:UpdateModelPackage"),
        ("report", "train", "sagemaker:DescribeEndpoint"),
        ("report", "train", "s3:PutObject"),
        ("approve", "approver", "ecr:BatchDeleteImage"),
        ("deploy", "deploy", "sagemaker:CreateEndpoint"),
        ("deploy", "sagemaker-execution", "ecr:BatchGetImage"),
        ("deploy", "sagemaker-execution", "kms:Encrypt"),
        ("test-endpoint", "deploy", "sagemaker:InvokeEndpoint"),
        ("update", "deploy", "sagemaker:UpdateEndpoint"),
        ("update", "sagemaker-execution", "cloudwatch:DescribeAlarms"),
        ("transform", "deploy", "sagemaker:CreateTransformJob"),
        ("transform", "sagemaker-execution", "kms:GenerateDataKey"),
        # Batch transform across instances: the split, the job over the parts, the join, the failure.
        ("transform", "deploy", "s3:PutObject"),
        ("transform", "deploy", "kms:GenerateDataKey"),
        ("transform", "deploy", "kms:Decrypt"),
        ("transform", "deploy", "s3:ListBucket"),
        ("transform", "deploy", "s3:DeleteObjectVersion"),
        ("transform", "deploy", "s3:AbortMultipartUpload"),
        ("transform", "deploy", "logs:FilterLogEvents"),
        ("transform", "sagemaker-execution", "s3:ListBucket"),
        ("train", "train", "s3:ListBucket"),
        ("rollback", "deploy", "sagemaker:UpdateEndpoint"),
        ("teardown", "deploy", "sagemaker:DeleteEndpointConfig"),
        ("deploy", "deploy", "application-autoscaling:RegisterScalableTarget"),
        ("deploy", "deploy", "application-autoscaling:PutScalingPolicy"),
        ("deploy", "deploy", "iam:CreateServiceLinkedRole"),
        ("update", "deploy", "application-autoscaling:DeregisterScalableTarget"),
        ("update", "deploy", "cloudwatch:DeleteAlarms"),
        ("update", "deploy", "cloudwatch:PutMetricAlarm"),  # the new-fleet rollback alarms
        ("teardown", "deploy", "cloudwatch:DeleteAlarms"),
        ("deploy", "deploy", "events:EnableRule"),  # the monitor schedule follows the endpoint
        ("teardown", "deploy", "events:DisableRule"),
        ("register", "train", "ecr:DescribeImages"),  # the pin tag is looked up before PutImage
        ("rollback", "deploy", "application-autoscaling:DeleteScalingPolicy"),
        ("teardown", "deploy", "application-autoscaling:DeregisterScalableTarget"),
        ("teardown", "deploy", "sagemaker:ListModels"),
        ("monitor", "monitor", "sagemaker:DescribeEndpoint"),
        ("monitor", "monitor", "sagemaker:ListModelPackages"),
        ("monitor", "monitor", "s3:ListBucket"),
        ("monitor", "monitor", "s3:GetObject"),
        ("monitor", "monitor", "s3:PutObject"),
    ]:
        assert (task, principal, action) in report.needed
