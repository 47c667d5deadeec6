"""The synthesized CodeBuild projects' variables resolve against resources made in the fake AWS."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from rehearsal_fake import Fake

from tools.rehearsal.codebuild_env import project_variables
from tools.rehearsal.run import STACK_OF
from tools.rehearsal.world import World, load_stacks

pytestmark = pytest.mark.synth


def test_every_project_variable_resolves_and_points_at_the_fakes(fake: Fake, synth_dir: Path) -> None:
    stacks = load_stacks(synth_dir, tuple(dict.fromkeys(STACK_OF.values())))
    session = boto3.Session(region_name="us-east-1")

    class Session:
        def client(self, service: str) -> object:
            return session.client(service, endpoint_url=fake.url)

    world = World(stacks=stacks, session=Session(), registry_address=fake.registry.address, mutability=fake.mutability)
    variables = {
        p: project_variables(next(iter(stacks[s]["resource"]["aws_codebuild_project"].values())), world.resolver(s))
        for p, s in STACK_OF.items()
        if p != "operator"
    }
    assert all("${" not in value for env in variables.values() for value in env.values())
    deploy = variables["deploy"]
    build_outputs = json.loads(deploy["BYOC_OUTPUTS_BUILDPIPELINESTACK"])
    assert build_outputs["ecr_repository_url"] == f"{fake.registry.address}/{build_outputs['ecr_repository_name']}"
    train_outputs = json.loads(deploy["BYOC_OUTPUTS_TRAINPIPELINESTACK"])
    # The same bucket whichever project carries it: one resource, made once.
    assert json.loads(variables["train"]["BYOC_OUTPUTS_TRAINPIPELINESTACK"])["datalake_bucket"] == train_outputs["datalake_bucket"]
    s3 = fake.client("s3")
    assert s3.get_bucket_versioning(Bucket=train_outputs["datalake_bucket"])["Status"] == "Enabled"
    group = fake.client("sagemaker").describe_model_package_group(ModelPackageGroupName=train_outputs["model_package_group"])
    assert group["ModelPackageGroupName"] == train_outputs["model_package_group"]
    assert fake.mutability[build_outputs["ecr_repository_name"]].immutable("abc123")
    assert not fake.mutability[build_outputs["ecr_repository_name"]].immutable("latest")
    assert deploy["DEPLOY_MODE"] == "endpoint"
