"""The push against a real OCI registry on loopback (Debian's docker-registry), over plain HTTP,
as the CodeBuild rehearsal runs it: the digest recorded is the one the registry computed."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sagemaker_setup import TEST_REPO

from ml.backends.local.procs import free_port
from ml.backends.sagemaker.clients import AwsClients
from ml.backends.sagemaker.push import push_image
from ml.names import REGISTRIES_CONF_ENV

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(not (shutil.which("buildah") and shutil.which("docker-registry")), reason="needs buildah and docker-registry"),
]
STORAGE = ["--storage-driver", "vfs"]
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'blobs'}\nhttp:\n  addr: {address}\n", encoding="utf-8"
    )
    server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def scratch_image() -> Iterator[str]:
    """A one-layer image made without any base image; removed afterwards with every tag it got."""
    name = f"localhost/byoc-push-test:{time.time_ns()}"
    container = subprocess.run(["buildah", *STORAGE, "from", "scratch"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["buildah", *STORAGE, "config", "--label", f"made-for={name}", container], check=True)
    image_id = subprocess.run(["buildah", *STORAGE, "commit", "-q", container, name], capture_output=True, text=True, check=True).stdout
    subprocess.run(["buildah", *STORAGE, "rm", container], check=True, capture_output=True)
    yield name
    subprocess.run(["buildah", *STORAGE, "rmi", "-f", image_id.strip()], check=False, capture_output=True)


def _registry_digest(address: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{address}/v2/{TEST_REPO}/manifests/{tag}", method="HEAD", headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=5) as reply:
        return str(reply.headers["Docker-Content-Digest"])


def test_push_to_a_loopback_registry_records_the_registry_digest(
    registry: str, scratch_image: str, clients: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n', encoding="utf-8")
    monkeypatch.setenv(REGISTRIES_CONF_ENV, str(conf))
    lines: list[str] = []
    record = push_image(
        ecr=clients.ecr,
        repository_url=f"{registry}/{TEST_REPO}",
        repository_name=TEST_REPO,
        local_name=scratch_image,
        tag="0123456789ab",
        builder="buildah",
        also_tags=["latest"],
        on_log=lines.append,
    )
    assert record.digest == _registry_digest(registry, "0123456789ab") == _registry_digest(registry, "latest")
    assert record.uri == f"{registry}/{TEST_REPO}@{record.digest}"
    assert clients.ecr.describe_images(repositoryName=TEST_REPO)["imageDetails"] == []  # ECR never saw it
