"""The environment a CodeBuild build of one of our projects sees, rebuilt on this machine.

Precedence is CodeBuild's: a start-build override beats the project's variable, which beats the
buildspec's ``env.variables``. On top come the variables CodeBuild itself sets, and what points
the build at the rehearsal's fakes instead of AWS (endpoint URL, fake credentials, strict request
checking, the loopback registry marked insecure for buildah and podman).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.awscheck.strict import strict_environment
from tools.rehearsal.fakes.motoapp import ACCOUNT
from tools.terraform_expr import Resolver

REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
# Passed through from this machine: what a CodeBuild image provides by itself.
HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYENV_ROOT")


@dataclass(frozen=True, kw_only=True)
class BuildHost:
    """Files that make this machine behave like a privileged CodeBuild container for the image build."""

    registries_conf: Path
    containers_conf: Path

    @classmethod
    def write(cls, *, directory: Path, registry: str) -> BuildHost:
        directory.mkdir(parents=True, exist_ok=True)
        registries = directory / "registries.conf"
        registries.write_text(
            'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n\n'
            f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n',
            encoding="utf-8",
        )
        # pip inside the build trusts this machine's CA bundle (a TLS-intercepting proxy), as a
        # corporate build host would configure it; nothing is added to the image's layers.
        pip_conf = directory / "pip.conf"
        pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n", encoding="utf-8")
        containers = directory / "containers.conf"
        volumes = [f"{pip_conf}:/etc/pip.conf:ro"]
        if Path("/etc/ssl/certs/ca-certificates.crt").exists():
            volumes.append("/etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro")
        containers.write_text(f"[containers]\nvolumes = {json.dumps(volumes)}\n", encoding="utf-8")
        return cls(registries_conf=registries, containers_conf=containers)

    def variables(self) -> dict[str, str]:
        return {
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "BUILDAH_ISOLATION": "chroot",  # no user namespaces here; podman build honours it too
        }


def project_variables(project: Mapping[str, object], resolver: Resolver) -> dict[str, str]:
    """The ``environment_variable`` entries of a synthesized aws_codebuild_project, resolved."""
    environment = project.get("environment")
    entries = environment.get("environment_variable", []) if isinstance(environment, Mapping) else []
    return {str(e["name"]): resolver.string(e["value"]) for e in entries}


def build_environment(
    *,
    project_name: str,
    project_vars: Mapping[str, str],
    buildspec_vars: Mapping[str, str],
    overrides: Mapping[str, str],
    src_dir: Path,
    secondary: Mapping[str, Path],
    commit: str,
    region: str,
    endpoint_url: str,
    host: BuildHost,
    initiator: str,
) -> dict[str, str]:
    env = {k: os.environ[k] for k in HOST_VARIABLES if k in os.environ}
    env.update(buildspec_vars)
    env.update(project_vars)
    env.update(overrides)
    build_id = f"{project_name}:{uuid.uuid4()}"
    env.update(
        {
            "CODEBUILD_BUILD_ID": build_id,
            "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}",
            "CODEBUILD_INITIATOR": initiator,
            "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
            "CODEBUILD_SRC_DIR": str(src_dir),
            "CODEBUILD_BUILD_IMAGE": "aws/codebuild/standard:7.0",
            **{f"CODEBUILD_SRC_DIR_{name}": str(path) for name, path in secondary.items()},
            **dict.fromkeys(REGION_VARIABLES, region),
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            # CodeBuild installs a fresh environment; here `pipenv sync` runs for real against
            # this project's environment, which already holds the locked packages. No index:
            # a package that is missing fails the install phase instead of changing the venv.
            "VIRTUAL_ENV": sys.prefix,
            "PIP_NO_INDEX": "1",
            "PIPENV_VERBOSITY": "-1",
            "PIPENV_NOSPIN": "1",
            **host.variables(),
        }
    )
    # Every AWS request the build's commands send is checked against botocore's service model.
    return strict_environment(env)


def image_detail(*, repository_uri: str, repository: str, digest: str, tags: list[str], size: int) -> str:
    """imageDetail.json as CodePipeline's ECR source action writes it."""
    return json.dumps(
        {
            "ImageSizeInBytes": str(size),
            "ImageDigest": digest,
            "Version": "1.0",
            "ImagePushedAt": "",
            "RegistryId": ACCOUNT,
            "RepositoryName": repository,
            "ImageURI": f"{repository_uri}@{digest}",
            "ImageTags": tags,
        }
    )
