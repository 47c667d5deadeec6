"""The scheduled monitor in the deploy stack: its project, schedule, notification and read-only role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import MONITOR_REPORTS_PREFIX

pytestmark = pytest.mark.synth

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "cdktf.json")
MONITOR_SIDS = [
    "DescribeEndpoint",
    "ListModelVersions",
    "ReadRegistry",
    "ListCapture",
    "ReadCaptureAndModels",
    "WriteReports",
    "DataLakeKey",
]


def _by_path(stack: dict[str, Any], kind: str, path: str) -> dict[str, Any]:
    (found,) = [
        r for r in stack.get("resource", stack.get("data", {})).get(kind, {}).values() if r["//"]["metadata"]["path"].endswith(path)
    ]
    return found


def _document(stack: dict[str, Any], path: str) -> list[dict[str, Any]]:
    (doc,) = [d for d in stack["data"]["aws_iam_policy_document"].values() if d["//"]["metadata"]["path"].endswith(path)]
    return list(doc["statement"])


def _variables(project: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in project["environment"]["environment_variable"]}


def test_the_monitor_project_pulls_the_deploy_repository_and_runs_invoke_monitor(stacks: dict[str, Any]) -> None:
    stack = stacks["DeployPipelineStack"]
    project = _by_path(stack, "aws_codebuild_project", "monitor/monitor/project")
    assert project["name"] == CONFIG.monitor_project
    # A plain name, no token: the deploy project carries the outputs, and the rehearsal resolves them.
    assert stack["output"]["monitor_project_name"]["value"] == CONFIG.monitor_project
    assert project["source"]["type"] == "CODECOMMIT"
    assert "aws_codecommit_repository" in project["source"]["location"]
    assert project["source"]["buildspec"] == (ROOT / "buildspecs" / "monitor.yml").read_text(encoding="utf-8")
    assert "pipenv run invoke monitor --backend sagemaker" in project["source"]["buildspec"]
    assert project["source_version"] == f"refs/heads/{CONFIG.deploy_branch}"
    assert project["artifacts"] == {"type": "NO_ARTIFACTS"}
    assert project["environment"]["privileged_mode"] is False
    deploy = _by_path(stack, "aws_codebuild_project", "deploy/project")
    outputs = {k: v for k, v in _variables(deploy).items() if k.startswith("BYOC_OUTPUTS_")}
    assert len(outputs) == 3 and {k: _variables(project)[k] for k in outputs} == outputs


def test_the_schedule_starts_only_the_monitor(stacks: dict[str, Any]) -> None:
    stack = stacks["DeployPipelineStack"]
    rule = _by_path(stack, "aws_cloudwatch_event_rule", "monitor/schedule")
    assert rule["schedule_expression"] == CONFIG.monitor_schedule
    target = _by_path(stack, "aws_cloudwatch_event_target", "monitor/run")
    assert "monitor_project" in target["arn"] and "monitor_events-role" in target["role_arn"]
    (start,) = _document(stack, "monitor/start")
    assert start["actions"] == ["codebuild:StartBuild"] and len(start["resources"]) == 1 and "monitor_project" in start["resources"][0]
    (trust,) = _document(stack, "monitor/events-trust")
    assert trust["principals"] == [{"identifiers": ["events.amazonaws.com"], "type": "Service"}]
    # No deploy notification address in the default config: no topic, so no breach rule.
    assert not [r for r in stack["resource"]["aws_cloudwatch_event_rule"].values() if r.get("name", "").endswith("monitor-breach")]


def test_a_failed_monitor_build_notifies_the_deploy_topic(alt_stacks: dict[str, Any]) -> None:
    stack = alt_stacks["DeployPipelineStack"]
    rule = _by_path(stack, "aws_cloudwatch_event_rule", "monitor/breach")
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.codebuild"] and pattern["detail"]["build-status"] == ["FAILED"]
    assert pattern["detail"]["project-name"] == ["${aws_codebuild_project.monitor_project_BA14C7C9.name}"]
    target = _by_path(stack, "aws_cloudwatch_event_target", "monitor/notify")
    assert "aws_sns_topic.deploy-notifications_topic" in target["arn"]
    assert "$.detail.additional-information.logs.deep-link" in target["input_transformer"]["input_paths"].values()


def test_the_monitor_role_reads_and_never_writes(stacks: dict[str, Any], alt_stacks: dict[str, Any]) -> None:
    statements = _document(stacks["DeployPipelineStack"], "monitor/monitor/permissions")
    sids = [s["sid"] for s in statements]
    assert sids == ["WriteOwnLogs", "UseStackKey", "PullSource", *MONITOR_SIDS]  # no pipeline artifact grants: it has none
    actions = {a for s in statements for a in s["actions"]}
    writes = {a for a in actions if a.split(":")[1].startswith(("Create", "Delete", "Update", "Put", "Invoke", "Stop"))}
    assert writes == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject"}  # its build log, its report
    (reports,) = [s for s in statements if s["sid"] == "WriteReports"]
    assert reports["actions"] == ["s3:PutObject"] and reports["resources"][0].endswith(f"/{MONITOR_REPORTS_PREFIX}/*")
    listing = statements[sids.index("ListCapture")]
    assert listing["condition"] == [{"test": "StringLike", "values": [f"{CONFIG.capture_prefix}/*"], "variable": "s3:prefix"}]
    alt = _document(alt_stacks["DeployPipelineStack"], "monitor/monitor/permissions")
    assert [s["sid"] for s in alt] == ["WriteOwnLogs", "UseStackKey", "UseConnection", "ReadStackOutputs", *MONITOR_SIDS]
    project = _by_path(alt_stacks["DeployPipelineStack"], "aws_codebuild_project", "monitor/monitor/project")
    assert project["source"]["type"] == "GITHUB" and project["source"]["auth"]["type"] == "CODECONNECTIONS"
