"""Keep the image of every registered, non-rejected model version from expiring.

The repository's lifecycle policy expires all but the newest images, except those carrying a
tag that starts with :data:`ml.names.PINNED_IMAGE_TAG_PREFIX`: a higher-priority rule selects
them, and ECR never lets a lower-priority rule expire an image a higher one selected. So a
version is pinned by giving its image (the digest it was trained with) one more tag, with the
same manifest (BatchGetImage, then PutImage, once DescribeImages shows the tag absent), and unpinned by deleting that tag alone
(BatchDeleteImage by tag removes the tag; the image stays while it has other tags).
"""

from __future__ import annotations

from typing import Any

from ml.backends.records import ModelVersion
from ml.backends.sagemaker.aws_errors import aws_call
from ml.backends.sagemaker.push import Repository, put_tag
from ml.errors import NotFoundError
from ml.names import pinned_image_tag


def _digest(image: str) -> str:
    if "@sha256:" not in image:
        raise NotFoundError(f"model image {image!r} is not pinned by digest; it cannot be protected from expiry")
    return image.rsplit("@", 1)[1]


def sync(*, ecr: Any, version: ModelVersion) -> None:
    """Pin ``version``'s image (``<registry>/<repository>@sha256:...``) unless the version is
    Rejected; unpin it if it is. Pinning an image that already carries the tag changes nothing."""
    registry_and_name = version.image.split("@", 1)[0]
    repository = registry_and_name.split("/", 1)[-1]
    tag = pinned_image_tag(version.group, version.version)
    if version.approval_status == "Rejected":
        with aws_call(service="ecr", action=f"unpinning {repository}:{tag}"):
            ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
        return
    digest = _digest(version.image)
    with aws_call(service="ecr", action=f"pinning {repository}@{digest} as {tag}"):
        found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
    if not found:
        raise NotFoundError(f"image {digest} of model version {version.version} is no longer in {repository}")
    put_tag(Repository(ecr=ecr, url=registry_and_name, name=repository), tag=tag, digest=digest, manifest=found[0])
