"""moto's ECR with tag immutability as ECR applies it (docs/aws-fidelity.md, "ECR").

moto 5.2 answers a PutImage of the same manifest under an existing tag with
ImageAlreadyExistsException whatever the repository's mutability, and lets some immutable tags be
moved (getmoto/moto#8717). ECR returns ImageTagAlreadyExistsException "if you push an image with
a tag that is already in the repository" once tag immutability is on (ECR user guide, "Preventing
image tags from being overwritten in Amazon ECR"), the same digest included (ECR's own answer in
aws/containers-roadmap#2179). This wrapper checks that first and delegates everything else.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from botocore.exceptions import ClientError


class EcrTagImmutability:
    """Delegates to a moto ECR client; PutImage refuses an existing immutable tag first."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _immutable(self, repository: str, tag: str) -> bool:
        repo = self.real.describe_repositories(repositoryNames=[repository])["repositories"][0]
        setting = repo.get("imageTagMutability", "MUTABLE")
        filters = repo.get("imageTagMutabilityExclusionFilters", [])
        excluded = any(fnmatch.fnmatchcase(tag, f["filter"]) for f in filters if f["filterType"] == "WILDCARD")
        if setting == "IMMUTABLE_WITH_EXCLUSION":
            return not excluded
        if setting == "MUTABLE_WITH_EXCLUSION":
            return excluded
        return bool(setting == "IMMUTABLE")

    def _tagged(self, repository: str, tag: str) -> bool:
        try:
            self.real.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except self.real.exceptions.ImageNotFoundException:
            return False
        return True

    def put_image(self, **request: Any) -> Any:
        repository, tag = request["repositoryName"], request.get("imageTag", "")
        if tag and self._tagged(repository, tag) and self._immutable(repository, tag):
            message = (
                f"The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten "
                "because the tag is immutable."
            )
            raise ClientError({"Error": {"Code": "ImageTagAlreadyExistsException", "Message": message}}, "PutImage")
        return self.real.put_image(**request)
