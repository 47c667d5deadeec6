"""Registered versions pin their image with a tag that the ECR lifecycle never expires (moto ECR)."""

from __future__ import annotations

from typing import Any

import pytest
from sagemaker_setup import TEST_GROUP, TEST_REPO, push_fake_image

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


def test_approving_a_registered_version_keeps_its_pin(backend: SageMakerBackend, clients: AwsClients) -> None:
    # Registration pinned the image; approval pins it again: ECR refuses to re-put an immutable
    # tag even with the same digest (ImageTagAlreadyExistsException), so the pin is looked up first.
    version = backend.register(job_name=backend.train().name)
    approved = backend.approve(version=version.version, status="Approved", note="ok")
    assert approved.approval_status == "Approved"
    assert pinned_image_tag(TEST_GROUP, version.version) in _tags(clients, backend.state.last_image().digest)


def test_a_pin_tag_on_another_image_is_an_error_not_a_silent_success(backend: SageMakerBackend, clients: AwsClients) -> None:
    version = backend.register(job_name=backend.train().name)
    pin = pinned_image_tag(TEST_GROUP, version.version)
    clients.ecr.batch_delete_image(repositoryName=TEST_REPO, imageIds=[{"imageTag": pin}])
    push_fake_image(clients, pin)  # the tag now names a different manifest
    with pytest.raises(AwsError, match="already names"):
        image_pins.sync(ecr=clients.ecr, version=version)


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
    pin = pinned_image_tag(TEST_GROUP, version.version)
    # Registration pinned it, and a pin already in place is not put again: remove it so PutImage runs.
    clients.ecr.batch_delete_image(repositoryName=TEST_REPO, imageIds=[{"imageTag": pin}])
    broken = _PutImageFails(clients.ecr, "LimitExceededException")
    with pytest.raises(AwsError, match=r"tagging .*@sha256:.* as .*: ecr:PutImage failed with LimitExceededException"):
        image_pins.sync(ecr=broken, version=version)
    # Pinned for real, a re-run is fine whatever PutImage would answer: it is not called.
    image_pins.sync(ecr=clients.ecr, version=version)
    image_pins.sync(ecr=_PutImageFails(clients.ecr, "ImageAlreadyExistsException"), version=version)
