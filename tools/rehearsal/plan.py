"""What a rehearsal runs: the stages of the main flow and of each injected failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tools.rehearsal.faults import FAULTS, Fault

Pipeline = Literal["build", "train", "deploy", "operator"]
PIPELINES: tuple[Pipeline, ...] = ("build", "train", "deploy")


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One CodeBuild run of a pipeline's project (or one command a human runs at a terminal)."""

    name: str
    pipeline: Pipeline
    command: str = ""  # operator stages only
    overrides: dict[str, str] = field(default_factory=dict)  # start-build environment overrides
    fault: Fault | None = None  # injected for this stage; the stage must then fail with its reason
    new_data: bool = False  # put a new version of the training data object first (the S3 source's trigger)
    expect_version: int = 0  # the model version the endpoint serves afterwards (0: not checked)
    expect_converged: bool = False  # build: the commit tag already existed and was reused
    expect_clean: bool = False  # nothing of the project is left in SageMaker afterwards (teardown)
    expect_joined: bool = False  # batch transform: one joined <input>.out, every record in it, no split left


def operator(name: str, command: str, *, expect_version: int = 0, expect_clean: bool = False) -> Stage:
    return Stage(
        name=name,
        pipeline="operator",
        command=f"pipenv run invoke {command} --backend sagemaker",
        expect_version=expect_version,
        expect_clean=expect_clean,
    )


MAIN: tuple[Stage, ...] = (
    Stage(name="build: push the image", pipeline="build"),
    Stage(name="build again on the same commit (converges)", pipeline="build", expect_converged=True),
    Stage(name="train + register version 1", pipeline="train"),
    operator("approve version 1 (the human approver)", "approve 1 --note rehearsal"),
    Stage(name="deploy: create the endpoint", pipeline="deploy", expect_version=1),
    Stage(name="train on a new data version + register version 2", pipeline="train", new_data=True),
    operator("approve version 2", "approve 2 --note rehearsal"),
    Stage(name="deploy: blue/green update to version 2", pipeline="deploy", expect_version=2),
    # On two instances (the start-build override of the configuration, as CodeBuild's would be): the
    # one input object is split into 8 parts, one job runs over them, their outputs are joined back.
    Stage(
        name="deploy: batch transform across 2 instances",
        pipeline="deploy",
        overrides={"DEPLOY_MODE": "transform", "CDKTF_CONTEXT_JSON": '{"transform_instance_count": 2}'},
        expect_joined=True,
    ),
    operator("rollback to version 1", "rollback", expect_version=1),
    operator("teardown", "teardown", expect_clean=True),
)

# Each runs after MAIN (two approved versions, the image pushed, no endpoint).
FAULT_STAGES: dict[Fault, tuple[Stage, ...]] = {
    "training-failed": (Stage(name="train: job ends Failed", pipeline="train", new_data=True, fault="training-failed"),),
    "transform-failed": (
        Stage(
            name="transform: job ends Failed",
            pipeline="deploy",
            new_data=True,
            overrides={"DEPLOY_MODE": "transform"},
            fault="transform-failed",
        ),
    ),
    "endpoint-failed": (
        Stage(name="deploy: endpoint creation ends Failed", pipeline="deploy", fault="endpoint-failed"),
        operator("teardown after the failed endpoint", "teardown", expect_clean=True),
    ),
    "update-rolled-back": (
        Stage(name="deploy: endpoint on version 2", pipeline="deploy", expect_version=2),
        operator("rollback to version 1", "rollback", expect_version=1),
        Stage(name="deploy: update to version 2 rolled back by an alarm", pipeline="deploy", fault="update-rolled-back", expect_version=1),
        operator("teardown after the rolled-back update", "teardown", expect_clean=True),
    ),
}


def plan(*, faults: tuple[Fault, ...], pipelines: tuple[Pipeline, ...] = PIPELINES) -> tuple[Stage, ...]:
    """MAIN restricted to ``pipelines`` and what they need, then each fault's stages.

    Train needs the build's image and deploy needs registered versions, as on AWS, so a later
    pipeline brings the earlier ones in; operator stages (approve, rollback, teardown) belong to
    deploy. Faults need the whole main flow.
    """
    last = max(PIPELINES.index(p) for p in pipelines) if pipelines and not faults else len(PIPELINES) - 1
    wanted: set[str] = set(PIPELINES[: last + 1])
    if "deploy" in wanted:
        wanted.add("operator")
    stages = [s for s in MAIN if s.pipeline in wanted]
    for fault in faults:
        stages.extend(FAULT_STAGES[fault])
    return tuple(stages)


def parse_faults(text: str) -> tuple[Fault, ...]:
    from tools.rehearsal.faults import parse_fault

    if text == "all":
        return FAULTS
    return tuple(f for f in (parse_fault(part.strip()) for part in text.split(",")) if f is not None)
