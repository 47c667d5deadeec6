"""Issue 9's infrastructure defects, each pinned by the synthesized JSON: portable state paths,
CodeBuild timeouts from config, the image lifecycle that keeps registered images, no dead variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import PINNED_IMAGE_TAG_PREFIX

pytestmark = pytest.mark.synth

ROOT = Path(__file__).resolve().parents[2]
DEAD_VARIABLES = {"BYOC_BACKEND", "BYOC_ECR_REPOSITORY", "BYOC_IMAGE_TAG_TRACKED", "BYOC_DATALAKE_BUCKET", "BYOC_SAGEMAKER_ROLE_ARN"}


def test_no_absolute_path_of_this_machine_in_any_stack(stacks: dict[str, Any], synth_dir: Path) -> None:
    for name, stack in stacks.items():
        text = json.dumps(stack)
        for path in {str(ROOT), str(synth_dir), str(Path.home()), "/work/", "/tmp/"}:
            assert path not in text, f"{name} names {path}"


def test_state_paths_are_relative_to_where_terraform_runs(stacks: dict[str, Any]) -> None:
    # `cdktf deploy` runs terraform in cdktf.out/stacks/<Stack>/: three levels below the project.
    for name, stack in stacks.items():
        assert stack["terraform"]["backend"]["local"]["path"] == f"../../../terraform.{name}.tfstate"
        for ref, remote in stack.get("data", {}).get("terraform_remote_state", {}).items():
            other = ref.removeprefix("cross-stack-reference-input-")
            assert remote["config"]["path"] == f"../../../terraform.{other}.tfstate"
        workdir = ROOT / "cdktf.out" / "stacks" / name
        assert (workdir / stack["terraform"]["backend"]["local"]["path"]).resolve() == ROOT / f"terraform.{name}.tfstate"


def _projects(stacks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for stack in stacks.values() for p in stack["resource"]["aws_codebuild_project"].values()}


def test_codebuild_timeouts_cover_the_backend_waits(stacks: dict[str, Any]) -> None:
    config = load_config(ROOT / "cdktf.json")
    projects = _projects(stacks)
    for kind, name in (("build", config.build_project), ("train", config.train_project), ("deploy", config.deploy_project)):
        assert projects[name]["build_timeout"] == config.project_timeout_minutes(kind), kind
    # deploy: an update after the endpoint settles (2 h here) or a 2 h transform, plus set-up.
    assert projects[config.deploy_project]["build_timeout"] * 60 > config.deploy_wait_seconds >= 7200
    assert projects[config.train_project]["build_timeout"] * 60 > config.training_wait_seconds


def test_no_codebuild_variable_that_nothing_reads(stacks: dict[str, Any]) -> None:
    for name, project in _projects(stacks).items():
        variables = {v["name"] for v in project["environment"]["environment_variable"]}
        assert not variables & DEAD_VARIABLES, name


def test_lifecycle_never_expires_a_pinned_image(stacks: dict[str, Any]) -> None:
    (policy,) = stacks["BuildPipelineStack"]["resource"]["aws_ecr_lifecycle_policy"].values()
    rules = sorted(json.loads(policy["policy"])["rules"], key=lambda r: r["rulePriority"])
    pinned, *others = rules
    # ECR: an image that a higher-priority rule selects cannot be expired by a lower one.
    assert pinned["selection"]["tagStatus"] == "tagged"
    assert pinned["selection"]["tagPrefixList"] == [PINNED_IMAGE_TAG_PREFIX]
    assert pinned["selection"]["countType"] == "imageCountMoreThan" and pinned["selection"]["countNumber"] >= 10000
    assert others[-1]["selection"]["tagStatus"] == "any"  # ECR requires "any" to be the last rule
    assert all(PINNED_IMAGE_TAG_PREFIX not in json.dumps(r) for r in others)
    repository = next(iter(stacks["BuildPipelineStack"]["resource"]["aws_ecr_repository"].values()))
    mutable = [f["filter"] for f in repository["image_tag_mutability_exclusion_filter"]]
    assert not any(f.startswith(PINNED_IMAGE_TAG_PREFIX[:1]) or f == "*" for f in mutable)  # pins are immutable
