"""The build's environment: CodeBuild's precedence, CodeBuild's own variables, the fakes, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.awscheck.strict import is_strict
from tools.rehearsal.codebuild_env import BuildHost, build_environment, image_detail


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SOMETHING_FROM_MY_SHELL", "leak")
    host = BuildHost.write(directory=tmp_path / "host", registry="127.0.0.1:5000")
    return build_environment(
        project_name="deploy-scikit-byo",
        project_vars={"DEPLOY_MODE": "endpoint", "BYOC_BACKEND": "sagemaker"},
        buildspec_vars={"DEPLOY_MODE": "from-buildspec", "ONLY_IN_BUILDSPEC": "yes"},
        overrides={"DEPLOY_MODE": "transform"},
        src_dir=tmp_path / "src",
        secondary={"image": tmp_path / "image"},
        commit="a" * 40,
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:1234",
        host=host,
        initiator="codepipeline/deploy",
    )


def test_override_beats_project_beats_buildspec(env: dict[str, str]) -> None:
    assert env["DEPLOY_MODE"] == "transform"
    assert env["ONLY_IN_BUILDSPEC"] == "yes"
    assert env["BYOC_BACKEND"] == "sagemaker"


def test_codebuilds_variables_and_the_fakes_are_set_and_nothing_else_leaks(env: dict[str, str], tmp_path: Path) -> None:
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "a" * 40
    assert env["CODEBUILD_BUILD_ID"].startswith("deploy-scikit-byo:")
    assert env["CODEBUILD_SRC_DIR"] == str(tmp_path / "src")
    assert env["CODEBUILD_SRC_DIR_image"] == str(tmp_path / "image")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert is_strict(env)
    assert "SOMETHING_FROM_MY_SHELL" not in env


def test_the_loopback_registry_is_marked_insecure_for_buildah(tmp_path: Path) -> None:
    host = BuildHost.write(directory=tmp_path, registry="127.0.0.1:5000")
    text = host.registries_conf.read_text()
    assert 'location = "127.0.0.1:5000"' in text and "insecure = true" in text
    assert host.variables()["CONTAINERS_REGISTRIES_CONF"] == str(host.registries_conf)


def test_image_detail_is_digest_pinned() -> None:
    detail = image_detail(repository_uri="127.0.0.1:5000/repo", repository="repo", digest="sha256:" + "b" * 64, tags=["latest"], size=3)
    assert '"ImageURI": "127.0.0.1:5000/repo@sha256:' + "b" * 64 + '"' in detail
