"""A real OCI registry on loopback (Debian's ``docker-registry``, CNCF distribution 2.8).

The rehearsal's image push goes here instead of ECR; the ECR fake answers image lookups from it,
so the digest the backend records is the one this registry computed from the pushed bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.local.procs import free_port
from ml.errors import ByocError

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
READY_SECONDS = 20.0


class RegistryError(ByocError):
    """The loopback registry could not start or answered unexpectedly."""


def config_text(*, root: Path, port: int) -> str:
    """distribution's YAML config; JSON is valid YAML, so no YAML writer is needed."""
    return json.dumps(
        {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        },
        indent=2,
    )


@dataclass(frozen=True, kw_only=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    @property
    def size_bytes(self) -> int:
        """Config plus layers, as ECR's imageSizeInBytes counts them."""
        document: dict[str, Any] = json.loads(self.body)
        parts = [document.get("config") or {}, *(document.get("layers") or [])]
        return sum(int(part.get("size", 0)) for part in parts)


class RegistryClient:
    """The few Distribution API calls the ECR fake needs."""

    def __init__(self, *, address: str) -> None:
        self.address = address  # host:port

    def _request(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(f"http://{self.address}{path}", data=body, method=method, headers=headers or {})
        return urllib.request.urlopen(request, timeout=30)  # noqa: S310

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, or ``None`` when the registry has none."""
        try:
            with self._request("GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ", ".join(MANIFEST_TYPES)}) as reply:
                return Manifest(
                    digest=reply.headers["Docker-Content-Digest"],
                    media_type=reply.headers.get("Content-Type", MANIFEST_TYPES[0]),
                    body=reply.read(),
                )
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise RegistryError(f"registry {self.address} answered {err.code} for {repository}:{reference}") from err

    def head_digest(self, repository: str, reference: str) -> str | None:
        """``Docker-Content-Digest`` of HEAD /v2/<repo>/manifests/<ref>: what a push of that tag produced."""
        try:
            with self._request("HEAD", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ", ".join(MANIFEST_TYPES)}) as reply:
                return str(reply.headers["Docker-Content-Digest"])
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise RegistryError(f"registry {self.address} answered {err.code} for HEAD {repository}:{reference}") from err

    def tags(self, repository: str) -> list[str]:
        """The repository's tags in the registry's own order (distribution sorts them; ECR does not)."""
        try:
            with self._request("GET", f"/v2/{repository}/tags/list") as reply:
                return list(json.loads(reply.read()).get("tags") or [])
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return []
            raise RegistryError(f"registry {self.address} answered {err.code} listing tags of {repository}") from err

    def put_manifest(self, repository: str, tag: str, *, body: bytes, media_type: str) -> str:
        with self._request("PUT", f"/v2/{repository}/manifests/{tag}", body=body, headers={"Content-Type": media_type}) as reply:
            return str(reply.headers["Docker-Content-Digest"])


class LoopbackRegistry:
    """``docker-registry serve`` on 127.0.0.1 with its own storage; stop() ends only that process."""

    def __init__(self, *, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client = RegistryClient(address=self.address)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LoopbackRegistry:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RegistryError("docker-registry is not installed; install the Debian package docker-registry")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "registry.yml"
        config.write_text(config_text(root=self.workdir / "storage", port=self.port), encoding="utf-8")
        log = (self.workdir / "registry.log").open("wb")
        self._process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = (self.workdir / "registry.log").read_text(errors="replace")[-2000:]
                raise RegistryError(f"docker-registry exited with {self._process.returncode}:\n{tail}")
            try:
                with self.client._request("GET", "/v2/"):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RegistryError(f"docker-registry did not answer on {self.address} within {READY_SECONDS:.0f}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> LoopbackRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
