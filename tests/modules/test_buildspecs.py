"""The buildspecs: plain CodeBuild YAML whose commands are invoke tasks on the sagemaker backend.

``invoke pipeline`` runs the same commands locally with ``--backend local``, so every command
must be a plain ``pipenv ...`` or ``invoke ...`` line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

BUILDSPECS = Path(__file__).resolve().parents[2] / "buildspecs"
EXPECTED = {
    "build": ["pipenv run invoke build-image --backend sagemaker"],
    # The new version's training report, before the deploy pipeline asks for approval.
    "train": ["pipenv run invoke train --backend sagemaker", "pipenv run invoke report --backend sagemaker"],
    "deploy": ["pipenv run invoke deploy --backend sagemaker --mode $DEPLOY_MODE"],
}


# The Pipfile category each buildspec installs: what its tasks import, not the whole Pipfile.
CATEGORY = {"build": "codebuild", "deploy": "codebuild", "train": "codebuild-reports", "monitor": "codebuild-reports"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_buildspec_installs_with_pipenv_and_runs_the_task(name: str) -> None:
    spec = yaml.safe_load((BUILDSPECS / f"{name}.yml").read_text(encoding="utf-8"))
    assert spec["version"] == 0.2
    assert spec["phases"]["install"]["commands"] == [f"pipenv sync --categories {CATEGORY[name]}"]
    assert spec["phases"]["build"]["commands"] == EXPECTED[name]
    for phase in spec["phases"].values():
        for command in phase["commands"]:
            assert command.split()[0] in {"pipenv", "invoke"}, command


def test_deploy_mode_has_a_default() -> None:
    spec = yaml.safe_load((BUILDSPECS / "deploy.yml").read_text(encoding="utf-8"))
    assert spec["env"]["variables"]["DEPLOY_MODE"] == "endpoint"
