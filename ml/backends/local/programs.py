"""How the container's ``train`` and ``serve`` programs are launched: as processes, or in the image.

The process runtime runs ``python -m byoc.train`` / ``byoc.serve`` from the checkout with
``PYTHONPATH`` pointing at ``ml/container``: the same code the image holds, started in a second
rather than a minute. The image runtime runs the built image with ``buildah run`` and mounts the
job's or variant's ``SAGEMAKER_BASE_DIR`` tree at ``/opt/ml``, exactly as SageMaker mounts it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ml.backends.local.records import program_env

SAGEMAKER_ROOT_IN_IMAGE = "/opt/ml"
BIND_HOST_ENV = "BYOC_BIND_HOST"  # serve binds 0.0.0.0 (the container contract) unless told otherwise


@dataclass(frozen=True, kw_only=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    # Commands that release what the launch held (a buildah working container), run after it stops.
    cleanup: list[list[str]] = field(default_factory=list)


class Programs(Protocol):
    @property
    def kind(self) -> str: ...

    def train(self, *, base_dir: Path) -> Launch: ...

    def serve(self, *, base_dir: Path, port: int, workers: int, extra_env: Mapping[str, str]) -> Launch: ...

    def identity(self) -> str:
        """Lineage: the image digest, or ``program:sha256:...`` of the checkout's container code."""
        ...


def program_hash(code: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in code.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(code)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True, kw_only=True)
class ProcessPrograms:
    code: Path  # ml/container in the checkout
    python: str = sys.executable
    kind: str = "process"

    def _env(self, base_dir: Path) -> dict[str, str]:
        return {**program_env(self.python), "PYTHONPATH": str(self.code), "SAGEMAKER_BASE_DIR": str(base_dir)}

    def train(self, *, base_dir: Path) -> Launch:
        return Launch(argv=[self.python, "-m", "byoc.train"], env=self._env(base_dir))

    def serve(self, *, base_dir: Path, port: int, workers: int, extra_env: Mapping[str, str]) -> Launch:
        env = {**self._env(base_dir), "SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_SERVER_WORKERS": str(workers), **extra_env}
        env[BIND_HOST_ENV] = "127.0.0.1"  # loopback only: a laptop's model server is not for the network
        return Launch(argv=[self.python, "-m", "byoc.serve"], env=env)

    def identity(self) -> str:
        return f"program:{program_hash(self.code)}"


@dataclass(frozen=True, kw_only=True)
class ImagePrograms:
    image: str  # a local image name or id
    digest: str
    kind: str = "image"

    def _launch(self, command: str, base_dir: Path, env: Mapping[str, str]) -> Launch:
        from ml import imaging

        # One working container per job or variant, so two variants never share a root file system.
        container = subprocess.run(
            ["buildah", *imaging.STORAGE, "from", "--pull-never", self.image], capture_output=True, text=True, check=True
        ).stdout.strip()
        argv = imaging.run_argv(container, [command], mounts={base_dir: SAGEMAKER_ROOT_IN_IMAGE}, env=env)
        return Launch(argv=argv, env=program_env(sys.executable), cleanup=[["buildah", *imaging.STORAGE, "rm", container]])

    def train(self, *, base_dir: Path) -> Launch:
        return self._launch("train", base_dir, {"PYTHONUNBUFFERED": "1"})

    def serve(self, *, base_dir: Path, port: int, workers: int, extra_env: Mapping[str, str]) -> Launch:
        env = {"SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_SERVER_WORKERS": str(workers), BIND_HOST_ENV: "127.0.0.1", **extra_env}
        return self._launch("serve", base_dir, env)

    def identity(self) -> str:
        return self.digest
