"""Helpers for the container tests: temp SageMaker trees, running train and serve, HTTP calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from sklearn.datasets import load_iris

from ml.imaging import STORAGE

CONTAINER_DIR = Path(__file__).resolve().parents[3] / "ml" / "container"
TRAIN = CONTAINER_DIR / "bin" / "train"
SERVE = CONTAINER_DIR / "bin" / "serve"
IRIS_NAMES = ("setosa", "versicolor", "virginica")


def iris_csv_lines() -> list[str]:
    """Iris as ``label,f1,f2,f3,f4`` lines (class names as labels, like ml/data.py writes)."""
    iris = load_iris()
    return [",".join([IRIS_NAMES[t], *(f"{x:.1f}" for x in row)]) for t, row in zip(iris.target, iris.data, strict=True)]


def make_tree(
    root: Path,
    *,
    training: str | None = None,
    validation: str | None = None,
    hyperparameters: Mapping[str, object] | None = None,
) -> Path:
    """Lay out ``input/config`` and ``input/data/<channel>/data.csv`` under ``root``."""
    (root / "input" / "config").mkdir(parents=True, exist_ok=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters or {})), encoding="utf-8")
    for channel, text in (("training", training), ("validation", validation)):
        if text is not None:
            (root / "input" / "data" / channel).mkdir(parents=True, exist_ok=True)
            (root / "input" / "data" / channel / "data.csv").write_text(text, encoding="utf-8")
    return root


def program_env(base_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "MODEL_SERVER_", "BYOC_"))}
    env |= {"SAGEMAKER_BASE_DIR": str(base_dir), "BYOC_PYTHON": sys.executable, **extra}
    return env


def run_train(base_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRAIN)], env=program_env(base_dir, **extra), capture_output=True, text=True, timeout=120, check=False)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    # Header names are case-insensitive (RFC 9110 5.1); granian sends them in lower case.
    headers: Message


def request(url: str, *, method: str = "GET", body: bytes | None = None, headers: Mapping[str, str] | None = None) -> Response:
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Response(resp.status, resp.read(), resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, err.read(), err.headers)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def invoke(self, body: bytes, content_type: str = "text/csv", accept: str | None = None) -> Response:
        headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
        return request(f"{self.url}/invocations", method="POST", body=body, headers=headers)

    def alive(self) -> bool:
        return self.process.poll() is None


def wait_until_listening(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            request(f"{url}/execution-parameters")
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server this test started: its own process group only (gunicorn master and workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def image_size_bytes(name: str) -> int:
    """The image's uncompressed size in bytes, base layers included."""
    out = subprocess.run(
        ["podman", *STORAGE, "image", "inspect", "--format", "{{.Size}}", name], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip() or 0)


@contextmanager
def working_container(image: str) -> Iterator[str]:
    """A buildah working container from ``image``; removed on exit."""
    name = subprocess.run(["buildah", *STORAGE, "from", "--pull-never", image], capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield name
    finally:
        subprocess.run(["buildah", *STORAGE, "rm", name], capture_output=True, check=False)
