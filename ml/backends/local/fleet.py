"""Serving variants: one ``serve`` process per variant, on its own port, with its own model tree.

A variant is started and must answer ``GET /ping`` with 200 before it is given any traffic; a
variant that never becomes healthy is stopped again and the failure says why (its log's tail).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.local import procs
from ml.backends.local.artifacts import unpack_model
from ml.backends.local.clock import stamp
from ml.backends.local.programs import Programs
from ml.backends.records import ModelVersion
from ml.errors import JobFailedError

HEALTH_TIMEOUT_S = 60.0
VERSION_ENV = "BYOC_MODEL_VERSION"  # informational: lets logs (and test programs) say which version serves


def default_workers() -> int:
    # One sync worker answers a single-row request in about a millisecond; during an update blue
    # and green run side by side, and each extra worker costs a second of start-up CPU and ~60 MB.
    return 1


@dataclass(frozen=True, kw_only=True)
class Variant:
    id: str
    version: int
    port: int
    proc: dict[str, Any]
    cleanup: list[list[str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "port": self.port, "proc": self.proc, "cleanup": self.cleanup}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        return cls(id=data["id"], version=int(data["version"]), port=int(data["port"]), proc=data["proc"], cleanup=data.get("cleanup", []))


def start_variant(
    *,
    programs: Programs,
    version: ModelVersion,
    base_dir: Path,
    workers: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_spawn: Callable[[Variant], None] | None = None,
) -> Variant:
    """Unpack the verified artifact into ``base_dir/model``, start serve, wait for a healthy /ping."""
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=base_dir / "model")
    port = procs.free_port()
    launch = programs.serve(
        base_dir=base_dir,
        port=port,
        workers=workers or default_workers(),
        extra_env={VERSION_ENV: str(version.version), **(extra_env or {})},
    )
    record = procs.spawn(launch.argv, env=launch.env, log=base_dir / "serve.log")
    variant = Variant(id=base_dir.name, version=version.version, port=port, proc=record, cleanup=launch.cleanup)
    if on_spawn is not None:  # recorded before the wait, so a crash here still leaves teardown a PID
        on_spawn(variant)
    problem = procs.wait_healthy(f"{variant.url}/ping", record=record, timeout=HEALTH_TIMEOUT_S, what=f"model version {version.version}")
    if problem:
        stop_variant(variant)
        raise JobFailedError(f"model version {version.version} failed its health check: {problem}")
    return variant


def variant_id(version: int) -> str:
    return f"v{version}-{stamp()}"


def stop_variant(variant: Variant) -> bool:
    """Stop the variant's recorded process group (only if it is still ours); release its container."""
    stopped = procs.stop(variant.proc)
    for argv in variant.cleanup:
        subprocess.run(argv, capture_output=True, check=False)
    return stopped
