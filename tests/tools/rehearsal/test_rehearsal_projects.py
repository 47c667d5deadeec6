"""The rehearsal runs each stack's pipeline project, not the deploy stack's scheduled monitor project."""

from __future__ import annotations

import copy
import io
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from tools.rehearsal.run import STACK_OF, Rehearsal, _project

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


class _S3:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.body)}


def _stub(stacks: dict[str, Any], body: bytes) -> Any:
    """Just what Rehearsal._secondary reads: the stacks, the data lake, an S3 client, the image detail."""
    stub = types.SimpleNamespace(stacks=stacks, datalake="lake", client=lambda _service: _S3(body))
    stub._image_detail = lambda folder: (folder / "imageDetail.json").write_text("{}", encoding="utf-8")
    stub._unzip_s3_source = lambda action, folder: Rehearsal._unzip_s3_source(stub, action, folder)
    return stub


def test_the_train_build_gets_the_image_detail_and_no_data_artifact(stacks: dict[str, Any], tmp_path: Path) -> None:
    made = Rehearsal._secondary(_stub(stacks, b"setosa,5.1\n"), "train", tmp_path)
    assert set(made) == {"image"}
    assert (made["image"] / "imageDetail.json").exists()


def test_an_unzipped_s3_artifact_handed_to_codebuild_fails_as_on_aws(stacks: dict[str, Any], tmp_path: Path) -> None:
    # As the train pipeline was wired before: the bare CSV of the S3 source as a build input.
    wired = copy.deepcopy(stacks)
    (pipeline,) = wired["TrainPipelineStack"]["resource"]["aws_codepipeline"].values()
    (build,) = [a for stage in pipeline["stage"] for a in stage["action"] if a["provider"] == "CodeBuild"]
    build["input_artifacts"].append("data")
    with pytest.raises(ValueError, match="not a zip"):
        Rehearsal._secondary(_stub(wired, b"setosa,5.1\n"), "train", tmp_path / "csv")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("iris.csv", "setosa,5.1\n")
    made = Rehearsal._secondary(_stub(wired, archive.getvalue()), "train", tmp_path / "zip")
    assert (made["data"] / "iris.csv").read_text(encoding="utf-8") == "setosa,5.1\n"
