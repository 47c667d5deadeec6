"""Registered versions pin their image with a tag that the ECR lifecycle never expires (moto ECR)."""

from __future__ import annotations

from typing import Any

import pytest
from sagemaker_setup import TEST_GROUP, TEST_REPO

from ml.backends.sagemaker import image_pins
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.clients import AwsClients
from ml.errors import AwsError
from ml.names import pinned_image_tag


def _tags(clients: AwsClients, digest: str) -> list[str]:
    details = clients.ecr.describe_images(repositoryName=TEST_REPO, imageIds=[{"imageDigest": digest}])["imageDetails"]
    return sorted(details[0].get("imageTags", []))


def test_register_pins_reject_unpins_and_approve_pins_again(backend: SageMakerBackend, clients: AwsClients) -> None:
    digest = backend.state.last_image().digest
    job = backend.train()
    version = backend.register(job_name=job.name)
    pin = pinned_image_tag(TEST_GROUP, version.version)
    assert pin in _tags(clients, digest)
    # Re-running the registration converges: the tag is already there.
    assert backend.register(job_name=job.name).version == version.version
    backend.approve(version=version.version, status="Rejected", note="worse")
    # Deleting by tag removes only the tag: the image keeps its commit tag.
    assert _tags(clients, digest) == ["abc1234def56"]
    backend.approve(version=version.version, status="Approved")
    assert _tags(clients, digest) == sorted(["abc1234def56", pin])


def test_pin_keeps_the_manifest(backend: SageMakerBackend, clients: AwsClients, sm: Any) -> None:
    version = backend.register(job_name=backend.train().name)
    image_pins.sync(ecr=clients.ecr, version=version)  # idempotent
    tag = pinned_image_tag(TEST_GROUP, version.version)
    by_tag = clients.ecr.batch_get_image(repositoryName=TEST_REPO, imageIds=[{"imageTag": tag}])["images"][0]
    by_commit = clients.ecr.batch_get_image(repositoryName=TEST_REPO, imageIds=[{"imageTag": "abc1234def56"}])["images"][0]
    assert by_tag["imageManifest"] == by_commit["imageManifest"]
    assert by_tag["imageId"]["imageDigest"] == version.image.rsplit("@", 1)[1]


class _PutImageFails:
    """The ECR client, except that PutImage answers ``code`` (as ECR would for a full repository)."""

    def __init__(self, real: Any, code: str) -> None:
        self.real, self.code = real, code

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_image(self, **_request: Any) -> Any:
        error = {"Error": {"Code": self.code, "Message": "The operation did not succeed"}}
        raise self.real.exceptions.ClientError(error, "PutImage")


def test_a_put_image_error_other_than_already_exists_fails_the_pin_loudly(backend: SageMakerBackend, clients: AwsClients) -> None:
    version = backend.register(job_name=backend.train().name)
    broken = _PutImageFails(clients.ecr, "LimitExceededException")
    with pytest.raises(AwsError, match=r"pinning .*@sha256:.* as .*: ecr:PutImage failed with LimitExceededException"):
        image_pins.sync(ecr=broken, version=version)
    # The one answer that means "already pinned" (a re-run) is fine.
    image_pins.sync(ecr=_PutImageFails(clients.ecr, "ImageAlreadyExistsException"), version=version)
