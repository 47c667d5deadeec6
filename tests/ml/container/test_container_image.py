"""The real image, built with buildah from a debootstrap Debian base: train and serve inside it.

Skipped only when buildah, podman or debootstrap is not installed (CI installs them).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from container_helpers import CONTAINER_DIR, image_size_bytes, iris_csv_lines, make_tree, request, stop, working_container

from ml.backends.local.procs import free_port
from ml.imaging import DEBIAN_BASE, build_image, builder_missing, ensure_debian_base, run_argv

pytestmark = pytest.mark.image

TAG = "localhost/byoc-test:latest"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# python3 + the pinned wheels on a minimal Debian; a regression guard, not a target.
MAX_IMAGE_BYTES = 500 * 1024 * 1024
SERVING_UID = 1000  # the image's "model" user, which serve's workers drop to


@pytest.fixture(scope="module")
def image() -> str:
    missing = builder_missing()
    if missing:
        pytest.skip(f"cannot build images on this machine: {missing}")
    ensure_debian_base()
    started = time.monotonic()
    image_id = build_image(context_dir=CONTAINER_DIR, tag=TAG, base_image=DEBIAN_BASE, ca_bundle=HOST_CA if HOST_CA.exists() else None)
    print(f"image {image_id[:19]} built in {time.monotonic() - started:.0f}s, {image_size_bytes(TAG) / 1e6:.0f} MB")
    return image_id


@pytest.fixture
def container(image: str) -> Iterator[str]:
    with working_container(TAG) as name:
        yield name


def _writable_tree(root: Path, **layout: object) -> Path:
    """A SageMaker tree owned by root, as SageMaker mounts it; the model stays world-readable."""
    make_tree(root, **layout)  # type: ignore[arg-type]
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)
    return root


def test_image_is_small(image: str) -> None:
    assert image_size_bytes(TAG) < MAX_IMAGE_BYTES


def test_train_then_serve_inside_the_image(container: str, tmp_path: Path) -> None:
    tree = _writable_tree(tmp_path / "ml", training="\n".join(iris_csv_lines()) + "\n", hyperparameters={"max_leaf_nodes": "5"})
    trained = subprocess.run(
        run_argv(container, ["train"], mounts={tree: "/opt/ml"}), capture_output=True, text=True, timeout=300, check=False
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "train:accuracy=0.9800" in trained.stdout
    manifest = json.loads((tree / "model" / "manifest.json").read_text())
    assert manifest["classes"] == ["setosa", "versicolor", "virginica"]
    assert (tree / "model" / "model.skops").stat().st_uid == 0, "train runs as root, as SageMaker runs it"

    port = free_port()
    argv = run_argv(container, ["serve"], mounts={tree: "/opt/ml"}, env={"SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_SERVER_WORKERS": "1"})
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(f"{url}/ping").status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "serve in the image did not become healthy"
            time.sleep(0.5)
        masters = [p for p in psutil.Process(server.pid).children(recursive=True) if "granian" in " ".join(p.cmdline())]
        assert masters, "no granian process found under buildah run"
        served = {p for m in masters for p in (m, *m.children(recursive=True))}
        assert len(served) >= 2, "the granian master and its worker"
        # granian cannot switch user itself, so serve drops to the model user before it starts it.
        assert {p.uids().real for p in served} == {SERVING_UID}, "master and workers run as the model user"
        csv = {"Content-Type": "text/csv"}
        answer = request(f"{url}/invocations", method="POST", body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", headers=csv)
        assert (answer.status, answer.body) == (200, b"setosa\nvirginica\n")
        bad = request(f"{url}/invocations", method="POST", body=b"5.1,3.5\n", headers=csv)
        assert bad.status == 400
    finally:
        stop(server)


def test_training_failure_inside_the_image_writes_output_failure(container: str, tmp_path: Path) -> None:
    tree = _writable_tree(tmp_path / "ml", training="\n".join(iris_csv_lines()) + "\n", hyperparameters={"max_depth": "deep"})
    result = subprocess.run(
        run_argv(container, ["train"], mounts={tree: "/opt/ml"}), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode != 0
    assert "max_depth='deep'" in (tree / "output" / "failure").read_text(encoding="utf-8")
