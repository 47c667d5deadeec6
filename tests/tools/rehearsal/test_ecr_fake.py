"""ECR image lookups come from the real loopback registry, and PutImage honours tag immutability."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rehearsal_fake import Fake

from tools.rehearsal.fakes.ecr import Mutability

REPO = "sagemaker-scikit-byo"
MEDIA = "application/vnd.oci.image.manifest.v1+json"


def upload_blob(address: str, repo: str, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{address}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(start) as reply:
        location = reply.headers["Location"]
    url = location if location.startswith("http") else f"http://{address}{location}"
    put = urllib.request.Request(
        f"{url}{'&' if '?' in url else '?'}digest={digest}", method="PUT", data=data, headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(put):
        pass
    return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}


def push(fake: Fake, tag: str, payload: bytes) -> str:
    """A real push through the Distribution API: blobs, then the manifest under ``tag``."""
    address = fake.registry.address
    config = upload_blob(address, REPO, json.dumps({"architecture": "amd64", "os": "linux", "payload": payload.hex()}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layer = upload_blob(address, REPO, payload)
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MEDIA, "config": config, "layers": [layer]}).encode()
    return fake.registry.client.put_manifest(REPO, tag, body=manifest, media_type=MEDIA)


@pytest.fixture
def ecr(fake: Fake) -> Any:
    client = fake.client("ecr")
    client.create_repository(repositoryName=REPO)
    fake.mutability[REPO] = Mutability(setting="IMMUTABLE_WITH_EXCLUSION", mutable_patterns=("latest",))
    return client


def test_describe_images_reads_the_digest_the_registry_computed(fake: Fake, ecr: Any) -> None:
    digest = push(fake, "abc123", b"layer-one")
    assert digest == fake.registry.client.head_digest(REPO, "abc123")
    detail = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "abc123"}])["imageDetails"][0]
    assert detail["imageDigest"] == digest
    assert detail["imageTags"] == ["abc123"]
    assert detail["imageSizeInBytes"] > len(b"layer-one")


def test_unknown_tags_and_repositories_raise_ecrs_errors(fake: Fake, ecr: Any) -> None:
    with pytest.raises(ClientError) as missing:
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "nope"}])
    assert missing.value.response["Error"]["Code"] == "ImageNotFoundException"
    with pytest.raises(ClientError) as no_repo:
        ecr.describe_images(repositoryName="other-repo", imageIds=[{"imageTag": "nope"}])
    assert no_repo.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    failures = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "nope"}])["failures"]
    assert failures[0]["failureCode"] == "ImageNotFound"


def test_retag_with_batch_get_image_and_put_image_moves_latest_only(fake: Fake, ecr: Any) -> None:
    first = push(fake, "commit-1", b"one")
    second = push(fake, "commit-2", b"two")
    image = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageDigest": first}])["images"][0]
    ecr.put_image(repositoryName=REPO, imageManifest=image["imageManifest"], imageTag="latest")
    assert fake.registry.client.head_digest(REPO, "latest") == first
    with pytest.raises(ClientError) as same:
        ecr.put_image(repositoryName=REPO, imageManifest=image["imageManifest"], imageTag="latest")
    assert same.value.response["Error"]["Code"] == "ImageAlreadyExistsException"
    other = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageDigest": second}])["images"][0]
    ecr.put_image(repositoryName=REPO, imageManifest=other["imageManifest"], imageTag="latest")  # latest is mutable
    assert fake.registry.client.head_digest(REPO, "latest") == second
    with pytest.raises(ClientError) as immutable:
        ecr.put_image(repositoryName=REPO, imageManifest=other["imageManifest"], imageTag="commit-1")
    assert immutable.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    assert fake.registry.client.head_digest(REPO, "commit-1") == first


def test_an_immutable_tag_is_refused_even_for_the_same_digest(fake: Fake, ecr: Any) -> None:
    # ECR user guide: with tag immutability on, ImageTagAlreadyExistsException "is returned if
    # you push an image with a tag that is already in the repository"; the digest does not matter.
    first = push(fake, "commit-1", b"one")
    image = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageDigest": first}])["images"][0]
    with pytest.raises(ClientError) as same:
        ecr.put_image(repositoryName=REPO, imageManifest=image["imageManifest"], imageTag="commit-1")
    assert same.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"


def test_image_tags_come_back_in_no_fixed_order(fake: Fake, ecr: Any) -> None:
    digest = push(fake, "commit-1", b"one")
    image = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageDigest": digest}])["images"][0]
    for tag in ("registered-g-v1", "registered-g-v2", "latest", "zz", "aa"):
        ecr.put_image(repositoryName=REPO, imageManifest=image["imageManifest"], imageTag=tag)
    orders = {
        tuple(ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": digest}])["imageDetails"][0]["imageTags"])
        for _ in range(20)
    }
    assert len(orders) > 1  # 6 tags: 720 orders; 20 draws all equal has probability 720**-19
    assert {frozenset(order) for order in orders} == {frozenset({"commit-1", "registered-g-v1", "registered-g-v2", "latest", "zz", "aa"})}


def test_list_images_and_the_authorization_token(fake: Fake, ecr: Any) -> None:
    digest = push(fake, "abc123", b"x")
    assert ecr.list_images(repositoryName=REPO)["imageIds"] == [{"imageDigest": digest, "imageTag": "abc123"}]
    token = ecr.get_authorization_token()["authorizationData"][0]
    assert token["proxyEndpoint"] == f"http://{fake.registry.address}"
