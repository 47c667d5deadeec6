"""Serving variants: one ``serve`` program per variant, on its own port, with its own model tree.

A variant is prepared here (its model unpacked, its port and launch chosen) and run by the
endpoint's supervisord (:mod:`ml.backends.local.supervise`), which restarts it on the same port
when it dies. It must answer ``GET /ping`` with 200 before it is given any traffic; a variant that
never becomes healthy is removed again and the failure says why (its log's tail).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ml.backends.local import procs
from ml.backends.local.artifacts import unpack_model
from ml.backends.local.clock import stamp
from ml.backends.local.programs import Programs
from ml.backends.local.records import Instance, ProcessRecord, Variant
from ml.backends.records import ModelVersion
from ml.errors import JobFailedError

HEALTH_TIMEOUT_S = 60.0
VERSION_ENV = "BYOC_MODEL_VERSION"  # informational: lets logs (and test programs) say which version serves


def default_workers() -> int:
    # One sync worker answers a single-row request in about a millisecond; during an update blue
    # and green run side by side, and each extra worker costs a second of start-up CPU and ~60 MB.
    return 1


def prepare_instance(*, programs: Programs, version: int, folder: Path, number: int, port: int | None = None) -> Instance:
    """How instance ``number`` (1-based) of a variant starts, on a free port; starts nothing."""
    port = port or procs.free_port()
    launch = programs.serve(base_dir=folder, port=port, workers=default_workers(), extra_env={VERSION_ENV: str(version)})
    log = folder / ("serve.log" if number == 1 else f"serve-{number}.log")
    return Instance(port=port, argv=tuple(launch.argv), env=launch.env, log=log, cleanup=tuple(tuple(c) for c in launch.cleanup))


def prepare_variant(*, programs: Programs, version: ModelVersion, base_dir: Path, instances: int = 1) -> Variant:
    """Unpack the verified artifact into ``base_dir/model`` and choose how its instances start; start nothing."""
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=base_dir / "model")
    made = tuple(prepare_instance(programs=programs, version=version.version, folder=base_dir, number=k) for k in range(1, instances + 1))
    return Variant(id=base_dir.name, version=version.version, folder=base_dir, instances=made)


def resized(variant: Variant, *, programs: Programs, count: int) -> Variant:
    """``variant`` with ``count`` instances: the first ones kept, new ones prepared on free ports."""
    if count < 1:
        raise ValueError(f"a variant needs at least one instance, not {count}")
    kept = variant.instances[:count]
    added = tuple(
        prepare_instance(programs=programs, version=variant.version, folder=variant.folder, number=k)
        for k in range(len(kept) + 1, count + 1)
    )
    return dataclasses.replace(variant, instances=kept + added)


def wait_healthy(variant: Variant, *, state_of: Callable[[str], str], timeout: float | None = None) -> str | None:
    """Poll every instance's /ping until 200 (for HEALTH_TIMEOUT_S by default); return why not
    (supervisord gave up on one, a timeout)."""
    timeout = HEALTH_TIMEOUT_S if timeout is None else timeout
    deadline = time.monotonic() + timeout
    waiting = dict(zip(variant.program_names(), variant.instances, strict=True))
    last = "no answer yet"
    while waiting and time.monotonic() < deadline:
        for name, inst in list(waiting.items()):
            log = inst.log
            if state_of(name) in ("FATAL", "EXITED", "STOPPED", "GONE"):
                return f"its process kept exiting at start; last lines of {log}:\n{procs.tail(log)}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{inst.port}/ping", timeout=2) as answer:
                    if answer.status == 200:
                        del waiting[name]
                        continue
                    last = f"HTTP {answer.status}"
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}"
            except (urllib.error.URLError, OSError) as err:
                last = str(getattr(err, "reason", err))
        if waiting:
            time.sleep(0.05)
    if not waiting:
        return None
    name, inst = next(iter(waiting.items()))
    return f"{name} did not answer 200 on http://127.0.0.1:{inst.port}/ping within {timeout:g}s (last: {last}); see {inst.log}"


def variant_id(version: int) -> str:
    return f"v{version}-{stamp()}"


_VARIANT_ID = re.compile(r"^v(\d+)-\d{8}-\d{6}-\d{3}$")


def version_of_variant(variant: str) -> int | None:
    """The model version a :func:`variant_id` names (the router's X-Byoc-Variant); None for anything else."""
    match = _VARIANT_ID.match(variant)
    return int(match.group(1)) if match else None


def release(variant: Variant) -> None:
    """Run each instance's cleanup commands (an image-runtime working container) once it has stopped."""
    release_instances(variant.instances)


def release_instances(instances: Iterable[Instance]) -> None:
    for inst in instances:
        for argv in inst.cleanup:
            subprocess.run(argv, capture_output=True, check=False)


@dataclass(frozen=True, kw_only=True)
class Server:
    """A variant run unsupervised, for one batch transform's life: its one instance and its process."""

    variant: Variant
    process: ProcessRecord

    @property
    def port(self) -> int:
        return self.variant.instances[0].port


def start_variant(
    *,
    programs: Programs,
    version: ModelVersion,
    base_dir: Path,
    workers: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_spawn: Callable[[ProcessRecord], None] | None = None,
) -> Server:
    """An unsupervised variant, for a batch transform's life only: spawned here, stopped by its caller."""
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=base_dir / "model")
    port = procs.free_port()
    launch = programs.serve(
        base_dir=base_dir,
        port=port,
        workers=workers or default_workers(),
        extra_env={VERSION_ENV: str(version.version), **(extra_env or {})},
    )
    instance = Instance(
        port=port, argv=tuple(launch.argv), env=launch.env, log=base_dir / "serve.log", cleanup=tuple(map(tuple, launch.cleanup))
    )
    process = procs.spawn(launch.argv, env=launch.env, log=instance.log)
    server = Server(variant=Variant(id=base_dir.name, version=version.version, folder=base_dir, instances=(instance,)), process=process)
    if on_spawn is not None:  # recorded before the wait, so a crash here still leaves teardown a PID
        on_spawn(process)
    problem = procs.wait_healthy(
        f"{server.variant.url}/ping", record=process, timeout=HEALTH_TIMEOUT_S, what=f"model version {version.version}"
    )
    if problem:
        stop_variant(server)
        raise JobFailedError(f"model version {version.version} failed its health check: {problem}")
    return server


def stop_variant(server: Server, *, kill: bool = False) -> bool:
    """Stop an unsupervised variant's recorded process group (only if it is still ours); release it.

    ``kill``: at once (SIGKILL), for a server with no request left to answer.
    """
    stopped = procs.kill(server.process) if kill else procs.stop(server.process)
    release(server.variant)
    return stopped
