"""Serving variants: one ``serve`` program per variant, on its own port, with its own model tree.

A variant is prepared here (its model unpacked, its port and launch chosen) and run by the
endpoint's supervisord (:mod:`ml.backends.local.supervise`), which restarts it on the same port
when it dies. It must answer ``GET /ping`` with 200 before it is given any traffic; a variant that
never becomes healthy is removed again and the failure says why (its log's tail).
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.local import procs
from ml.backends.local.artifacts import unpack_model
from ml.backends.local.clock import stamp
from ml.backends.local.programs import Programs
from ml.backends.local.supervise.config import Program
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
    proc: dict[str, Any]  # argv, env, log, folder: what supervisord runs (pid/started: the last seen)
    cleanup: list[list[str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return Path(self.proc["log"])

    def program(self) -> Program:
        return Program(
            name=self.id,
            argv=list(self.proc["argv"]),
            env=dict(self.proc.get("env", {})),
            directory=Path(self.proc["folder"]),
            log=self.log,
            health_url=f"{self.url}/ping",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "port": self.port, "proc": self.proc, "cleanup": self.cleanup}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        return cls(id=data["id"], version=int(data["version"]), port=int(data["port"]), proc=data["proc"], cleanup=data.get("cleanup", []))


def prepare_variant(
    *, programs: Programs, version: ModelVersion, base_dir: Path, port: int | None = None, extra_env: Mapping[str, str] | None = None
) -> Variant:
    """Unpack the verified artifact into ``base_dir/model`` and choose how serve starts; start nothing."""
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=base_dir / "model")
    port = port or procs.free_port()
    launch = programs.serve(
        base_dir=base_dir, port=port, workers=default_workers(), extra_env={VERSION_ENV: str(version.version), **(extra_env or {})}
    )
    proc = {"argv": launch.argv, "env": launch.env, "log": str(base_dir / "serve.log"), "folder": str(base_dir), "pid": 0, "started": 0}
    return Variant(id=base_dir.name, version=version.version, port=port, proc=proc, cleanup=launch.cleanup)


def wait_healthy(variant: Variant, *, state_of: Callable[[], str], timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """Poll the variant's /ping until 200; return why not (supervisord gave up on it, a timeout)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if state_of() in ("FATAL", "EXITED", "STOPPED", "GONE"):
            return f"its process kept exiting at start; last lines of {variant.log}:\n{procs.tail(variant.log)}"
        try:
            with urllib.request.urlopen(f"{variant.url}/ping", timeout=2) as answer:  # noqa: S310 - loopback URL
                if answer.status == 200:
                    return None
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last = str(getattr(err, "reason", err))
        time.sleep(0.05)
    return f"it did not answer 200 on {variant.url}/ping within {timeout:g}s (last: {last}); see {variant.log}"


def variant_id(version: int) -> str:
    return f"v{version}-{stamp()}"


def release(variant: Variant) -> None:
    """Run the variant's cleanup commands (an image-runtime working container) once it has stopped."""
    for argv in variant.cleanup:
        subprocess.run(argv, capture_output=True, check=False)


def start_variant(
    *,
    programs: Programs,
    version: ModelVersion,
    base_dir: Path,
    workers: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_spawn: Callable[[Variant], None] | None = None,
) -> Variant:
    """An unsupervised variant, for a batch transform's life only: spawned here, stopped by its caller."""
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


def stop_variant(variant: Variant) -> bool:
    """Stop an unsupervised variant's recorded process group (only if it is still ours); release it."""
    stopped = procs.stop(variant.proc)
    release(variant)
    return stopped
