"""Build the container image, push it to ECR, and return its digest-pinned URI.

Downstream steps run ``repository@sha256:...``: a tag can be moved, a digest cannot, so a model
version always names the exact bytes it was trained with.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.backends.records import ImageRecord
from ml.backends.sagemaker.aws_errors import aws_call
from ml.errors import UserInputError

BUILDERS = ("docker", "podman", "buildah")
# buildah and podman need these on machines without overlay mounts or user namespaces.
_STORAGE = ("--storage-driver", "vfs")

Runner = Callable[[Sequence[str], str | None], str]


def run_command(argv: Sequence[str], stdin: str | None) -> str:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise UserInputError(f"`{' '.join(argv[:2])}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def detect_builder(which: Callable[[str], str | None] = shutil.which, runner: Runner = run_command) -> str:
    """docker when its daemon answers, else podman, else buildah."""
    if which("docker"):
        try:
            runner(["docker", "info"], None)
            return "docker"
        except UserInputError:
            pass  # a client without a daemon cannot build
    for name in ("podman", "buildah"):
        if which(name):
            return name
    raise UserInputError("no image builder found; install docker, podman or buildah, or choose one with --builder")


def git_commit(root: Path, runner: Runner = run_command) -> str:
    """The short commit, marked ``-dirty`` when the tree has changes, so a tag never lies."""
    commit = runner(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], None).strip()
    dirty = runner(["git", "-C", str(root), "status", "--porcelain"], None).strip()
    return f"{commit}-dirty" if dirty else commit


def _cli(builder: str) -> list[str]:
    return [builder, *_STORAGE] if builder in ("podman", "buildah") else [builder]


def push_image(
    *,
    ecr: Any,
    repository_url: str,
    repository_name: str,
    local_name: str,
    tag: str,
    builder: str,
    runner: Runner = run_command,
) -> ImageRecord:
    """Log in with GetAuthorizationToken, push ``local_name`` as ``repository_url:tag``, read the digest from ECR."""
    with aws_call(service="ecr", action="logging in to ECR"):
        auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode("utf-8").split(":", 1)
    registry = repository_url.split("/", 1)[0]
    cli = _cli(builder)
    runner([*cli, "login", "--username", user, "--password-stdin", registry], password)
    remote = f"{repository_url}:{tag}"
    runner([*cli, "tag", local_name, remote], None)
    runner([*cli, "push", remote], None)
    # ECR is the authority on the digest, whichever client pushed.
    with aws_call(service="ecr", action=f"reading the digest of {remote}"):
        details = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    digest = details["imageDigest"]
    return ImageRecord(uri=f"{repository_url}@{digest}", digest=digest, tag=tag, builder=builder, created_at=datetime.now(UTC).isoformat())


def build_local(*, builder: str, context_dir: Path, local_name: str, runner: Runner = run_command) -> None:
    """Build the Dockerfile in ``context_dir``; buildah goes through :mod:`ml.imaging` (vfs, chroot)."""
    if builder == "buildah":
        from ml.imaging import build_image

        build_image(context_dir=context_dir, tag=local_name)
        return
    runner([*_cli(builder), "build", "-t", local_name, str(context_dir)], None)
