"""The deploy approval reaches the candidate's report; the train role records it and cannot approve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import candidate_report_key
from tools.awscheck.calls import Call
from tools.awscheck.evaluate import Statement, applies, role_statements
from tools.awscheck.permissions import PermissionMapper
from tools.awscheck.synthesis import Synthesis

pytestmark = pytest.mark.synth
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
CONFIG = load_config(ROOT / "cdktf.json")


def test_the_approval_links_the_candidates_report_in_the_data_lake(stacks: dict[str, Any]) -> None:
    (pipeline,) = stacks["DeployPipelineStack"]["resource"]["aws_codepipeline"].values()
    (approve,) = next(stage for stage in pipeline["stage"] if stage["name"] == "Approve")["action"]
    settings = approve["configuration"]
    key = candidate_report_key(CONFIG.model_package_group)
    link = settings["ExternalEntityLink"]
    console = f"https://{CONFIG.region}.console.aws.amazon.com/s3/object/"
    assert link.startswith(console) and link.endswith(f"?region={CONFIG.region}&prefix={key}")
    bucket = link.removeprefix(console).split("?")[0]
    # The train stack's data lake, by reference (a cross-stack output), never a name typed here.
    assert bucket.startswith("${") and "datalake" in bucket, bucket
    assert settings["CustomData"].endswith(f"s3://{bucket}/{key}")
    assert "beside the version now serving" in settings["CustomData"]
    assert len(settings["CustomData"].replace(bucket, "b" * 63)) <= 500  # CodePipeline's limit, bucket at its longest


def _train_role(synth: Synthesis) -> list[Statement]:
    return role_statements(synth, "TrainPipelineStack", synth.by_path("TrainPipelineStack", "aws_iam_role", "train/role"))


def test_the_train_role_records_reports_but_cannot_set_an_approval_status(stacks: dict[str, Any]) -> None:
    statements = _train_role(Synthesis(stacks, region=CONFIG.region, account=ACCOUNT))
    package = f"arn:aws:sagemaker:{CONFIG.region}:{ACCOUNT}:model-package/{CONFIG.model_package_group.lower()}/3"
    allowed = [s for s in statements if s.effect == "Allow"]
    assert any(applies(s, "sagemaker:UpdateModelPackage", package, {}) for s in allowed)
    for status in ("Approved", "Rejected", "PendingManualApproval"):
        context = {"sagemaker:ModelApprovalStatus": status}
        assert not any(applies(s, "sagemaker:UpdateModelPackage", package, context) for s in allowed), status


def test_a_request_that_sets_a_status_is_refused_to_the_train_role_and_one_that_does_not_is_allowed(stacks: dict[str, Any]) -> None:
    # Through the permission mapper, as the coverage check sees calls: the request's status must
    # reach the condition, or the Null condition would allow self-approval unnoticed.
    allowed = [s for s in _train_role(Synthesis(stacks, region=CONFIG.region, account=ACCOUNT)) if s.effect == "Allow"]
    arn = f"arn:aws:sagemaker:{CONFIG.region}:{ACCOUNT}:model-package/{CONFIG.model_package_group.lower()}/3"
    mapper = PermissionMapper(region=CONFIG.region, account=ACCOUNT)

    def permitted(params: dict[str, Any]) -> bool:
        needs = mapper.needs(Call(task="report", service="sagemaker", operation="UpdateModelPackage", params=params))
        return all(any(applies(s, n.action, n.resource, n.context) for s in allowed) for n in needs)

    properties = {"report": "s3://bucket/reports/x/index.html"}
    assert permitted({"ModelPackageArn": arn, "CustomerMetadataProperties": properties})
    assert not permitted({"ModelPackageArn": arn, "ModelApprovalStatus": "Approved", "CustomerMetadataProperties": properties})
