"""Push the built image under its commit tag, move ``latest`` to it, and record the pushed digest.

The ECR repository's tags are immutable, except ``latest``. A re-run on the same commit (a
pipeline retry, "Release change", a failure after the push) must converge rather than fail, so:

- When ECR already holds the commit tag, nothing is pushed: the registry's image for that commit
  is the record, even if this build's bytes differ (builds are not bit-reproducible; a tag names
  one image forever, and models may already pin its digest).
- If the push loses a race to another run (the tag appears between the check and the push), the
  push fails with ECR's tag-exists error, and the tag's existing digest is used the same way.
- ``latest`` is then moved to exactly that digest with ECR's own retag (``BatchGetImage`` +
  ``PutImage`` of the same manifest), never by pushing the local build: after a reuse the local
  build is a different image, and ``latest`` must name the image the commit tag names. The
  ``PutImage`` is also what starts the train pipeline (its ECR source follows ``latest``); when
  ``latest`` already names the digest, nothing changes and no pipeline starts.

The digest recorded is the one the registry returned for the push (``--digestfile`` for
buildah/podman, the push output for docker), cross-checked with ECR when ECR knows the tag. A
registry ECR does not front (the CodeBuild rehearsal's loopback registry) has no ECR record, so
there the push's own digest is the record and ``latest`` is pushed from the same local build,
and must come back with the same digest. Plain-HTTP registries are the environment's choice
(``CONTAINERS_REGISTRIES_CONF`` with ``insecure = true``, see :func:`marked_insecure`); nothing
here weakens TLS for a registry the environment did not mark.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.records import ImageRecord
from ml.backends.sagemaker.aws_errors import aws_call, error_code
from ml.backends.sagemaker.images import Runner, cli, run_command
from ml.errors import AwsError, UserInputError
from ml.names import REGISTRIES_CONF_ENV

# How docker, podman and buildah word ECR's ImageTagAlreadyExistsException on a push.
_TAG_EXISTS = re.compile(r"already exists|cannot be overwritten|ImageTagAlreadyExists", re.IGNORECASE)
_DOCKER_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class Repository:
    """Where the image goes: the ECR client, the repository URI and name."""

    ecr: Any
    url: str
    name: str


def marked_insecure(registry: str, environ: Mapping[str, str]) -> bool:
    """Whether ``$CONTAINERS_REGISTRIES_CONF`` marks ``registry`` ``insecure = true`` (plain HTTP).

    buildah and podman honour that file for pushes but not for ``login``, which needs the flag;
    it is passed only for a registry the environment itself declared insecure, never for ECR.
    """
    path = environ.get(REGISTRIES_CONF_ENV)
    if not path:
        return False
    try:
        entries = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("registry", [])
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UserInputError(f"{REGISTRIES_CONF_ENV}={path} cannot be read as registries.conf ({err})") from err
    return any(isinstance(e, dict) and e.get("location") == registry and e.get("insecure") is True for e in entries)


def registry_digest(repo: Repository, tag: str) -> str | None:
    """The digest ECR holds under ``tag``, or ``None`` when ECR has no such tag."""
    with aws_call(service="ecr", action=f"looking up {repo.url}:{tag}"):
        try:
            details = repo.ecr.describe_images(repositoryName=repo.name, imageIds=[{"imageTag": tag}])["imageDetails"]
        except ClientError as err:
            if error_code(err) == "ImageNotFoundException":
                return None
            raise
    return str(details[0]["imageDigest"]) if details else None


def pushed_digest(*, builder: str, local_name: str, remote: str, runner: Runner) -> str:
    """Push ``local_name`` as ``remote``; return the digest the registry computed for it."""
    base = cli(builder)
    runner([*base, "tag", local_name, remote], None)
    if builder == "docker":
        out = runner([*base, "push", remote], None)
        found = _DOCKER_DIGEST.findall(out)
        digest = found[-1] if found else ""
    else:
        with tempfile.TemporaryDirectory(prefix="byoc-push-") as tmp:
            digest_file = Path(tmp) / "digest"
            runner([*base, "push", "--digestfile", str(digest_file), remote], None)
            digest = digest_file.read_text(encoding="utf-8").strip() if digest_file.exists() else ""
    if not _DIGEST.match(digest):
        raise UserInputError(f"`{builder} push {remote}` succeeded but reported no sha256 digest ({digest!r}); cannot pin the image")
    return digest


def _push_commit_tag(repo: Repository, *, builder: str, local_name: str, tag: str, runner: Runner, log: Callable[[str], None]) -> str:
    remote = f"{repo.url}:{tag}"
    existing = registry_digest(repo, tag)
    if existing is not None:
        log(f"{remote} already exists as {existing}; tags are immutable, so that image is reused and this build is not pushed")
        return existing
    try:
        digest = pushed_digest(builder=builder, local_name=local_name, remote=remote, runner=runner)
    except UserInputError as err:
        raced = registry_digest(repo, tag) if _TAG_EXISTS.search(str(err)) else None
        if raced is None:
            raise
        log(f"{remote} was pushed by another run meanwhile ({raced}); reusing it")
        return raced
    known = registry_digest(repo, tag)
    if known is not None and known != digest:
        raise AwsError(f"the push of {remote} reported {digest}, but ECR lists {known} under that tag; re-run build-image")
    return digest


# PutImage's two answers for a tag that already exists (ECR API reference, PutImage): the same
# manifest under a mutable tag, and any manifest under an immutable tag, even the same digest.
TAG_EXISTS_CODES = ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException")


def put_tag(repo: Repository, *, tag: str, digest: str, manifest: Mapping[str, Any]) -> bool:
    """Give ``digest`` (whose BatchGetImage answer is ``manifest``) the tag ``tag``; ``False`` if it had it.

    The tag is looked up first: ECR refuses to re-put an immutable tag even for the same digest,
    so a re-run must not depend on which exception that gives. A tag-exists answer to the put
    (a race with another run) is accepted only after the tag is seen to name ``digest``.
    """
    if registry_digest(repo, tag) == digest:
        return False
    request: dict[str, Any] = {"repositoryName": repo.name, "imageManifest": manifest["imageManifest"], "imageTag": tag}
    if manifest.get("imageManifestMediaType"):
        request["imageManifestMediaType"] = manifest["imageManifestMediaType"]
    with aws_call(service="ecr", action=f"tagging {repo.url}@{digest} as {tag}"):
        try:
            repo.ecr.put_image(**request, imageDigest=digest)
        except ClientError as err:
            if error_code(err) not in TAG_EXISTS_CODES:
                raise
            holder = registry_digest(repo, tag)
            if holder != digest:
                raise AwsError(
                    f"{repo.url}:{tag} already names {holder}, not {digest}, and ECR keeps that tag ({error_code(err)}); "
                    "delete the tag in ECR if it is wrong, then re-run"
                ) from err
    return True


def move_tag(repo: Repository, *, tag: str, digest: str, builder: str, local_name: str, runner: Runner) -> None:
    """Point the mutable ``tag`` at ``digest``: ECR's retag when ECR holds it, else push the same build."""
    with aws_call(service="ecr", action=f"reading the manifest of {repo.url}@{digest}"):
        found = repo.ecr.batch_get_image(repositoryName=repo.name, imageIds=[{"imageDigest": digest}]).get("images", [])
    if not found:
        moved = pushed_digest(builder=builder, local_name=local_name, remote=f"{repo.url}:{tag}", runner=runner)
        if moved != digest:
            raise UserInputError(f"{repo.url}:{tag} was pushed as {moved}, not {digest}; the registry re-encoded the image")
        return
    put_tag(repo, tag=tag, digest=digest, manifest=found[0])


def login(*, ecr: Any, repository_url: str, builder: str, runner: Runner = run_command) -> None:
    """``<builder> login`` to the registry holding ``repository_url`` with an ECR token: pushes,
    and pulls of the base image through the pull-through cache, need it."""
    with aws_call(service="ecr", action="logging in to ECR"):
        auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode("utf-8").split(":", 1)
    registry = repository_url.split("/", 1)[0]
    plain_http = ["--tls-verify=false"] if builder != "docker" and marked_insecure(registry, os.environ) else []
    runner([*cli(builder), "login", *plain_http, "--username", user, "--password-stdin", registry], password)


def push_image(
    *,
    ecr: Any,
    repository_url: str,
    repository_name: str,
    local_name: str,
    tag: str,
    builder: str,
    runner: Runner = run_command,
    also_tags: Sequence[str] = (),
    on_log: Callable[[str], None] | None = None,
    logged_in: bool = False,
) -> ImageRecord:
    """Log in with GetAuthorizationToken (unless ``logged_in``: an ECR token lasts 12 hours), push
    (or reuse) ``tag``, move ``also_tags`` to its digest."""
    log = on_log or (lambda _line: None)
    repo = Repository(ecr=ecr, url=repository_url, name=repository_name)
    if not logged_in:
        login(ecr=ecr, repository_url=repository_url, builder=builder, runner=runner)
    digest = _push_commit_tag(repo, builder=builder, local_name=local_name, tag=tag, runner=runner, log=log)
    for extra in also_tags:
        move_tag(repo, tag=extra, digest=digest, builder=builder, local_name=local_name, runner=runner)
    return ImageRecord(uri=f"{repository_url}@{digest}", digest=digest, tag=tag, builder=builder, created_at=datetime.now(UTC).isoformat())
