"""Each CodeBuild project carries the outputs of the stacks it needs as BYOC_OUTPUTS_<STACK> JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ml.names import Output, outputs_variable
from ml.tfstate import REQUIRED_OUTPUTS

pytestmark = pytest.mark.synth
NEEDS = {
    "BuildPipelineStack": ("BuildPipelineStack",),
    "TrainPipelineStack": ("BuildPipelineStack", "TrainPipelineStack"),
    "DeployPipelineStack": ("BuildPipelineStack", "TrainPipelineStack", "DeployPipelineStack"),
}
# One `"name" = value` entry of the jsonencode({...}) map: a list, a string or a reference.
_ENTRY = re.compile(r'"(\w+)" = (\[[^\]]*\]|"[^"]*"|[^,}\s]+)')


def project_variables(stack: dict[str, Any]) -> dict[str, str]:
    # The pipeline's project; the deploy stack's monitor project carries the same (test_monitor_schedule).
    [project] = [p for p in stack["resource"]["aws_codebuild_project"].values() if p["source"]["type"] == "CODEPIPELINE"]
    return {v["name"]: v["value"] for v in project["environment"]["environment_variable"]}


def encoded(value: str) -> dict[str, str]:
    match = re.fullmatch(r"\$\{jsonencode\(\{(.*)\}\)\}", value, flags=re.DOTALL)
    assert match, f"not a jsonencode of a map: {value[:120]}"
    return dict(_ENTRY.findall(match.group(1)))


def own_outputs(stack: dict[str, Any]) -> dict[str, Any]:
    return {name: o["value"] for name, o in stack["output"].items() if not name.startswith("cross-stack-output-")}


def as_expression(value: Any) -> str:
    """An output's synthesized value as it appears inside the jsonencode expression."""
    if isinstance(value, list):
        return "[" + ", ".join(as_expression(v) for v in value) + "]"
    text = str(value)
    inner = re.fullmatch(r"\$\{(.*)\}", text)
    return inner.group(1) if inner else f'"{text}"'


@pytest.mark.parametrize("synth", ["stacks", "alt_stacks"])
def test_each_project_carries_exactly_the_stacks_it_needs(synth: str, request: pytest.FixtureRequest) -> None:
    stacks = request.getfixturevalue(synth)
    for name, needed in NEEDS.items():
        carried = {k for k in project_variables(stacks[name]) if k.startswith("BYOC_OUTPUTS_")}
        assert carried == {outputs_variable(s) for s in needed}, name


@pytest.mark.parametrize("synth", ["stacks", "alt_stacks"])
def test_own_outputs_are_the_same_values_as_the_terraform_outputs(synth: str, request: pytest.FixtureRequest) -> None:
    stacks = request.getfixturevalue(synth)
    for name, stack in stacks.items():
        entries = encoded(project_variables(stack)[outputs_variable(name)])
        outputs = own_outputs(stack)
        assert set(entries) == set(outputs), name
        for output, value in outputs.items():
            assert entries[output] == as_expression(value), f"{name}.{output}"


@pytest.mark.parametrize("synth", ["stacks", "alt_stacks"])
def test_other_stacks_outputs_are_cross_stack_references(synth: str, request: pytest.FixtureRequest) -> None:
    stacks = request.getfixturevalue(synth)
    for name, needed in NEEDS.items():
        variables = project_variables(stacks[name])
        for upstream in needed[:-1]:
            entries = encoded(variables[outputs_variable(upstream)])
            assert set(entries) == set(own_outputs(stacks[upstream])), f"{name} carries {upstream}"
            for output, expression in entries.items():
                if expression.startswith("data."):
                    assert expression.startswith(f"data.terraform_remote_state.cross-stack-reference-input-{upstream}."), output
                else:  # a plain value, such as the configured pipeline name, is the same in both stacks
                    assert expression == as_expression(own_outputs(stacks[upstream])[output]), output


def test_ecr_outputs_reference_the_repository(stacks: dict[str, Any]) -> None:
    entries = encoded(project_variables(stacks["BuildPipelineStack"])["BYOC_OUTPUTS_BUILDPIPELINESTACK"])
    assert entries["ecr_repository_url"] == "aws_ecr_repository.ecr.repository_url"
    assert entries["ecr_repository_name"] == "aws_ecr_repository.ecr.name"
    train = encoded(project_variables(stacks["TrainPipelineStack"])["BYOC_OUTPUTS_TRAINPIPELINESTACK"])
    assert train["datalake_bucket"].startswith("aws_s3_bucket.datalake_")
    assert train["sagemaker_role_arn"].startswith("aws_iam_role.sagemaker_")
    deploy = encoded(project_variables(stacks["DeployPipelineStack"])["BYOC_OUTPUTS_DEPLOYPIPELINESTACK"])
    assert deploy["alarm_names"].count("aws_cloudwatch_metric_alarm.") == 2


@pytest.mark.parametrize("synth", ["stacks", "alt_stacks"])
def test_no_project_depends_on_its_own_pipeline(synth: str, request: pytest.FixtureRequest) -> None:
    # The pipeline references the project; a reference back would be a Terraform cycle.
    for stack in request.getfixturevalue(synth).values():
        assert not any("aws_codepipeline." in value for value in project_variables(stack).values())


def test_the_stacks_declare_exactly_the_outputs_of_the_output_enum(stacks: dict[str, Any], alt_stacks: dict[str, Any]) -> None:
    # The notification topics exist only with notification addresses (the alternative configuration).
    declared = {name for synth in (stacks, alt_stacks) for stack in synth.values() for name in own_outputs(stack)}
    assert declared == {o.value for o in Output}
    for stack, names in REQUIRED_OUTPUTS.items():
        assert {n.value for n in names} <= set(own_outputs(stacks[stack])), stack
