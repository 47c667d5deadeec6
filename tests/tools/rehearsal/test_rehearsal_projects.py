"""The rehearsal runs each stack's pipeline project, not the deploy stack's scheduled monitor project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from tools.rehearsal.run import STACK_OF, _project

pytestmark = pytest.mark.synth

CONFIG = load_config(Path(__file__).resolve().parents[3] / "cdktf.json")


def test_each_pipeline_maps_to_its_own_project(stacks: dict[str, Any]) -> None:
    names = {pipeline: _project(stacks[stack])["name"] for pipeline, stack in STACK_OF.items()}
    assert names == {
        "build": CONFIG.build_project,
        "train": CONFIG.train_project,
        "deploy": CONFIG.deploy_project,
        "operator": CONFIG.deploy_project,
    }
    assert len(stacks["DeployPipelineStack"]["resource"]["aws_codebuild_project"]) == 2  # deploy and monitor
