"""Issue 19's running costs, destroy and first-contact fixes, pinned by the synthesized JSON:
SageMaker's log groups declared with retention and a key, captured data that expires, a monitor
schedule that starts off, the new-fleet alarms and schedule toggles the deploy role needs, and the
base image pulled through an ECR cache instead of Docker Hub."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import BASE_IMAGE_PATH, BASE_IMAGE_UPSTREAM, TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP, endpoint_log_group, pull_through_prefix

pytestmark = pytest.mark.synth

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "cdktf.json")


def _resources(stack: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(stack["resource"].get(kind, {}).values())


def test_sagemakers_log_groups_are_declared_with_retention_and_the_stack_key(stacks: dict[str, Any]) -> None:
    # SageMaker creates them on first use with no retention ("never expire") and no key.
    expected = {
        "TrainPipelineStack": {TRAINING_LOG_GROUP},
        "DeployPipelineStack": {TRANSFORM_LOG_GROUP, endpoint_log_group(CONFIG.endpoint_name)},
    }
    for name, groups in expected.items():
        declared = {g["name"]: g for g in _resources(stacks[name], "aws_cloudwatch_log_group")}
        assert groups <= set(declared), name
        for group in groups:
            assert declared[group]["retention_in_days"] == CONFIG.log_retention_days
            assert declared[group]["kms_key_id"].startswith("${aws_kms_key.")


def test_captured_data_expires_after_the_configured_days(stacks: dict[str, Any]) -> None:
    lifecycles = _resources(stacks["TrainPipelineStack"], "aws_s3_bucket_lifecycle_configuration")
    (datalake,) = [lc for lc in lifecycles if "datalake" in lc["bucket"]]
    (capture,) = [r for r in datalake["rule"] if r["filter"][0]["prefix"] == f"{CONFIG.capture_prefix}/"]
    assert capture["status"] == "Enabled"
    assert capture["expiration"] == [{"days": CONFIG.capture_expiry_days}]
    assert capture["noncurrent_version_expiration"] == [{"noncurrent_days": 1}]  # a versioned bucket keeps old versions


def test_the_monitor_schedule_starts_disabled_and_terraform_leaves_its_state_alone(stacks: dict[str, Any]) -> None:
    (schedule,) = [r for r in _resources(stacks["DeployPipelineStack"], "aws_cloudwatch_event_rule") if "schedule_expression" in r]
    assert schedule["name"] == CONFIG.monitor_schedule_rule
    assert schedule["state"] == "DISABLED"  # no endpoint yet: every run would fail and notify
    assert schedule["lifecycle"] == {"ignore_changes": ["state"]}  # deploy enables it, teardown disables it


def test_the_deploy_role_may_toggle_the_schedule_and_manage_new_fleet_alarms_only(stacks: dict[str, Any]) -> None:
    stack = stacks["DeployPipelineStack"]
    docs = [d for k, d in stack["data"]["aws_iam_policy_document"].items() if k.startswith("deploy_permissions")]
    (doc,) = docs
    by_sid = {s["sid"]: s for s in doc["statement"]}
    assert by_sid["MonitorScheduleState"]["actions"] == ["events:DescribeRule", "events:DisableRule", "events:EnableRule"]
    assert by_sid["MonitorScheduleState"]["resources"][0].endswith(f":rule/{CONFIG.monitor_schedule_rule}")
    assert by_sid["NewFleetAlarms"]["resources"][0].endswith(f":alarm:{CONFIG.endpoint_name}-new-fleet-*")


def test_the_base_image_is_pulled_through_an_ecr_cache_of_ecr_public(stacks: dict[str, Any]) -> None:
    build = stacks["BuildPipelineStack"]
    (rule,) = _resources(build, "aws_ecr_pull_through_cache_rule")
    assert rule == {**rule, "ecr_repository_prefix": pull_through_prefix(CONFIG.project_name), "upstream_registry_url": "public.ecr.aws"}
    docs = [d for k, d in build["data"]["aws_iam_policy_document"].items() if k.startswith("build_permissions")]
    (pull,) = [s for d in docs for s in d["statement"] if s.get("sid") == "PullBaseImageThroughCache"]
    assert "ecr:BatchImportUpstreamImage" in pull["actions"] and "ecr:CreateRepository" in pull["actions"]
    assert pull["resources"][0].endswith(f":repository/{pull_through_prefix(CONFIG.project_name)}/*")


def test_the_dockerfile_never_pulls_from_docker_hub() -> None:
    dockerfile = (ROOT / "ml" / "container" / "Dockerfile").read_text(encoding="utf-8")
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert default == f"{BASE_IMAGE_UPSTREAM}/{BASE_IMAGE_PATH}"  # ECR Public's mirror of the official image
