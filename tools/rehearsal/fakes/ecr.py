"""ECR image lookups answered from the loopback registry the rehearsal pushes to.

Pushes go to a real registry, not to moto, so moto's ECR has no images. DescribeImages,
BatchGetImage, ListImages and PutImage are answered from that registry (``HEAD`` and ``GET``
``/v2/<repo>/manifests/<ref>``), after moto confirms the repository exists, so the digest the
backend reads is the one the registry computed. PutImage honours the repository's tag
mutability (``IMMUTABLE_WITH_EXCLUSION`` with its filters), as ECR does: an existing immutable
tag is refused with ImageTagAlreadyExistsException even for the same digest, and only a mutable
tag re-put with the same manifest gets ImageAlreadyExistsException. Image tags come back in a
shuffled order: ECR documents none (docs/aws-fidelity.md, "ECR").
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import random
import threading
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tools.rehearsal.fakes.motoapp import ACCOUNT, MotoApp, Reply, error_reply, json_reply
from tools.rehearsal.registry import Manifest, RegistryClient


@dataclass(frozen=True, kw_only=True)
class Mutability:
    """A repository's ``image_tag_mutability`` and its WILDCARD exclusion filters."""

    setting: str = "MUTABLE"
    mutable_patterns: tuple[str, ...] = ()

    def immutable(self, tag: str) -> bool:
        if self.setting == "MUTABLE":
            return False
        if self.setting == "IMMUTABLE":
            return True
        return not any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.mutable_patterns)


def shuffled(items: list[str]) -> list[str]:
    """A fresh random order: callers must not rely on the order of a set ECR returns."""
    return random.sample(items, len(items))


def _image_id_text(image_id: Mapping[str, str]) -> str:
    return f"{{imageDigest:'{image_id.get('imageDigest', 'null')}', imageTag:'{image_id.get('imageTag', 'null')}'}}"


def _declared_media_type(body: bytes) -> str:
    """ECR reads the manifest's own mediaType when the request names none."""
    try:
        declared = json.loads(body).get("mediaType")
    except (ValueError, AttributeError):
        declared = None
    return str(declared or "application/vnd.docker.distribution.manifest.v2+json")


class EcrFake:
    OPERATIONS = frozenset({"DescribeImages", "BatchGetImage", "ListImages", "PutImage", "GetAuthorizationToken"})

    def __init__(
        self,
        *,
        moto: MotoApp,
        registry: RegistryClient,
        mutability: dict[str, Mutability] | None = None,
        order: Callable[[list[str]], list[str]] = shuffled,
    ) -> None:
        self._moto, self._registry, self._order = moto, registry, order
        self._mutability = mutability if mutability is not None else {}  # filled as repositories are made
        self._pushed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        if operation == "GetAuthorizationToken":
            return self._authorization()
        with self._lock:
            repository = request.get("repositoryName", "")
            known = self._moto.json_call("ecr", "DescribeRepositories", {"repositoryNames": [repository]})
            if not known.ok:
                return known  # RepositoryNotFoundException from moto, as ECR words it
            return getattr(self, f"_{operation}")(repository, request)  # type: ignore[no-any-return]

    def _authorization(self) -> Reply:
        """moto's token, with the proxy endpoint of the registry the images really go to."""
        token = base64.b64encode(b"AWS:rehearsal-token").decode()
        expires = datetime.now(UTC).timestamp() + 12 * 3600
        data = {"authorizationToken": token, "expiresAt": expires, "proxyEndpoint": f"http://{self._registry.address}"}
        return json_reply({"authorizationData": [data]})

    def _detail(self, repository: str, manifest: Manifest) -> dict[str, Any]:
        tags = [t for t in self._registry.tags(repository) if self._registry.head_digest(repository, t) == manifest.digest]
        pushed = self._pushed_at.setdefault(manifest.digest, datetime.now(UTC).timestamp())
        detail: dict[str, Any] = {
            "registryId": ACCOUNT,
            "repositoryName": repository,
            "imageDigest": manifest.digest,
            "imageSizeInBytes": manifest.size_bytes,
            "imagePushedAt": pushed,
            "imageManifestMediaType": manifest.media_type,
        }
        if tags:
            detail["imageTags"] = self._order(tags)
        return detail

    def _resolve(self, repository: str, image_id: Mapping[str, str]) -> Manifest | None:
        reference = image_id.get("imageDigest") or image_id.get("imageTag") or ""
        manifest = self._registry.manifest(repository, reference) if reference else None
        if manifest is not None and image_id.get("imageTag") and image_id.get("imageDigest"):
            # Both given: they must name the same image.
            tagged = self._registry.head_digest(repository, image_id["imageTag"])
            return manifest if tagged == manifest.digest else None
        return manifest

    def _all(self, repository: str) -> list[Manifest]:
        by_digest: dict[str, Manifest] = {}
        for tag in self._registry.tags(repository):
            manifest = self._registry.manifest(repository, tag)
            if manifest is not None:
                by_digest.setdefault(manifest.digest, manifest)
        return list(by_digest.values())

    def _DescribeImages(self, repository: str, request: Mapping[str, Any]) -> Reply:
        image_ids: Sequence[Mapping[str, str]] = request.get("imageIds") or []
        if not image_ids:
            return json_reply({"imageDetails": [self._detail(repository, m) for m in self._all(repository)]})
        details = []
        for image_id in image_ids:
            manifest = self._resolve(repository, image_id)
            if manifest is None:
                return error_reply(
                    status=400,
                    code="ImageNotFoundException",
                    message=f"The image with imageId {_image_id_text(image_id)} does not exist within the repository with name "
                    f"'{repository}' in the registry with id '{ACCOUNT}'",
                )
            details.append(self._detail(repository, manifest))
        return json_reply({"imageDetails": details})

    def _BatchGetImage(self, repository: str, request: Mapping[str, Any]) -> Reply:
        images, failures = [], []
        for image_id in request.get("imageIds") or []:
            manifest = self._resolve(repository, image_id)
            if manifest is None:
                failures.append({"imageId": dict(image_id), "failureCode": "ImageNotFound", "failureReason": "Requested image not found"})
                continue
            images.append(
                {
                    "registryId": ACCOUNT,
                    "repositoryName": repository,
                    "imageId": {**image_id, "imageDigest": manifest.digest},
                    "imageManifest": manifest.body.decode("utf-8"),
                    "imageManifestMediaType": manifest.media_type,
                }
            )
        return json_reply({"images": images, "failures": failures})

    def _ListImages(self, repository: str, request: Mapping[str, Any]) -> Reply:
        ids = []
        for tag in self._order(self._registry.tags(repository)):
            digest = self._registry.head_digest(repository, tag)
            if digest:
                ids.append({"imageDigest": digest, "imageTag": tag})
        return json_reply({"imageIds": ids})

    def _PutImage(self, repository: str, request: Mapping[str, Any]) -> Reply:
        tag = request.get("imageTag", "")
        body = str(request.get("imageManifest", "")).encode("utf-8")
        media_type = request.get("imageManifestMediaType") or _declared_media_type(body)
        existing = self._registry.head_digest(repository, tag) if tag else None
        if existing is not None:
            # Mutability first: an immutable tag that exists is refused whatever the digest.
            if self._mutability.get(repository, Mutability()).immutable(tag):
                return error_reply(
                    status=400,
                    code="ImageTagAlreadyExistsException",
                    message=f"The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten "
                    "because the tag is immutable.",
                )
            new_digest = "sha256:" + hashlib.sha256(body).hexdigest()  # a manifest's digest is the hash of its bytes
            if existing == new_digest:
                return error_reply(
                    status=400,
                    code="ImageAlreadyExistsException",
                    message=f"Image with digest '{new_digest}' and tag '{tag}' already exists in the repository with name "
                    f"'{repository}' in registry with id '{ACCOUNT}'",
                )
        try:
            digest = self._registry.put_manifest(repository, tag, body=body, media_type=media_type)
        except urllib.error.HTTPError as err:
            return error_reply(
                status=400, code="InvalidParameterException", message=f"Invalid parameter at 'imageManifest': {err.read()[:300]!r}"
            )
        manifest = Manifest(digest=digest, media_type=media_type, body=body)
        return json_reply(
            {
                "image": {
                    "registryId": ACCOUNT,
                    "repositoryName": repository,
                    "imageId": {"imageTag": tag, "imageDigest": digest},
                    "imageManifest": manifest.body.decode(),
                    "imageManifestMediaType": media_type,
                }
            }
        )
