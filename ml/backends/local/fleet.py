"""Serving variants: one ``serve`` program per variant, on its own port, with its own model tree.

A variant is prepared here (its model unpacked, its port and launch chosen) and run by the
endpoint's supervisord (:mod:`ml.backends.local.supervise`), which restarts it on the same port
when it dies. It must answer ``GET /ping`` with 200 before it is given any traffic; a variant that
never becomes healthy is removed again and the failure says why (its log's tail).
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.local import procs
from ml.backends.local.artifacts import unpack_model
from ml.backends.local.clock import stamp
from ml.backends.local.programs import Programs
from ml.backends.local.router import Upstream
from ml.backends.local.supervise.config import Program
from ml.backends.records import ModelVersion
from ml.errors import JobFailedError

HEALTH_TIMEOUT_S = 60.0
# Per-instance nginx weight = percent × WEIGHT_SCALE / instances: divisible by every count up to 6.
WEIGHT_SCALE = 60
VERSION_ENV = "BYOC_MODEL_VERSION"  # informational: lets logs (and test programs) say which version serves


def default_workers() -> int:
    # One sync worker answers a single-row request in about a millisecond; during an update blue
    # and green run side by side, and each extra worker costs a second of start-up CPU and ~60 MB.
    return 1


@dataclass(frozen=True, kw_only=True)
class Instance:
    """One more copy of a variant's model server (SageMaker's instance), on its own port."""

    port: int
    proc: dict[str, Any]  # argv, env, log, folder: what supervisord runs
    cleanup: list[list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "proc": self.proc, "cleanup": self.cleanup}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        return cls(port=int(data["port"]), proc=data["proc"], cleanup=data.get("cleanup", []))


@dataclass(frozen=True, kw_only=True)
class Variant:
    """A model version's fleet: its first instance inline (``port``/``proc``), the others in ``more``.

    Every instance runs the same serve program on the same model folder; the router spreads the
    variant's share of traffic evenly over them. Autoscaling changes ``more``.
    """

    id: str
    version: int
    port: int
    proc: dict[str, Any]  # argv, env, log, folder: what supervisord runs (pid/started: the last seen)
    cleanup: list[list[str]]
    more: tuple[Instance, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return Path(self.proc["log"])

    @property
    def folder(self) -> Path:
        return Path(self.proc["folder"])

    @property
    def instances(self) -> tuple[Instance, ...]:
        return (Instance(port=self.port, proc=self.proc, cleanup=self.cleanup), *self.more)

    @property
    def count(self) -> int:
        return 1 + len(self.more)

    def program_names(self) -> list[str]:
        """supervisord's name of each instance: the variant id, then ``<id>-2``, ``<id>-3`` ..."""
        return [self.id, *(f"{self.id}-{k}" for k in range(2, self.count + 1))]

    def programs(self) -> list[Program]:
        return [
            Program(
                name=name,
                argv=list(inst.proc["argv"]),
                env=dict(inst.proc.get("env", {})),
                directory=Path(inst.proc["folder"]),
                log=Path(inst.proc["log"]),
                health_url=f"http://127.0.0.1:{inst.port}/ping",
            )
            for name, inst in zip(self.program_names(), self.instances, strict=True)
        ]

    def upstreams(self, *, percent: int, backup: bool = False) -> list[Upstream]:
        """The router's servers for this variant: ``percent`` of the traffic, split evenly over instances.

        nginx weights are relative, so each instance gets percent × WEIGHT_SCALE / count: the
        variant's total stays proportional to ``percent`` whatever its instance count.
        """
        weight = 1 if backup else max(1, round(percent * WEIGHT_SCALE / self.count))
        return [Upstream(name=self.id, port=inst.port, weight=weight, backup=backup) for inst in self.instances]

    def addrs(self) -> frozenset[str]:
        return frozenset(f"127.0.0.1:{inst.port}" for inst in self.instances)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "port": self.port,
            "proc": self.proc,
            "cleanup": self.cleanup,
            "more": [inst.to_dict() for inst in self.more],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        return cls(
            id=data["id"],
            version=int(data["version"]),
            port=int(data["port"]),
            proc=data["proc"],
            cleanup=data.get("cleanup", []),
            more=tuple(Instance.from_dict(i) for i in data.get("more", [])),
        )


def prepare_instance(*, programs: Programs, version: int, folder: Path, number: int, port: int | None = None) -> Instance:
    """How instance ``number`` (1-based) of a variant starts, on a free port; starts nothing."""
    port = port or procs.free_port()
    launch = programs.serve(base_dir=folder, port=port, workers=default_workers(), extra_env={VERSION_ENV: str(version)})
    log = folder / ("serve.log" if number == 1 else f"serve-{number}.log")
    proc = {"argv": launch.argv, "env": launch.env, "log": str(log), "folder": str(folder), "pid": 0, "started": 0}
    return Instance(port=port, proc=proc, cleanup=launch.cleanup)


def prepare_variant(*, programs: Programs, version: ModelVersion, base_dir: Path, instances: int = 1) -> Variant:
    """Unpack the verified artifact into ``base_dir/model`` and choose how its instances start; start nothing."""
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=base_dir / "model")
    first, *more = [
        prepare_instance(programs=programs, version=version.version, folder=base_dir, number=k) for k in range(1, instances + 1)
    ]
    return Variant(id=base_dir.name, version=version.version, port=first.port, proc=first.proc, cleanup=first.cleanup, more=tuple(more))


def resized(variant: Variant, *, programs: Programs, count: int) -> Variant:
    """``variant`` with ``count`` instances: the first ones kept, new ones prepared on free ports."""
    if count < 1:
        raise ValueError(f"a variant needs at least one instance, not {count}")
    kept = variant.more[: count - 1]
    added = tuple(
        prepare_instance(programs=programs, version=variant.version, folder=variant.folder, number=k)
        for k in range(len(kept) + 2, count + 1)
    )
    return dataclasses.replace(variant, more=kept + added)


def wait_healthy(variant: Variant, *, state_of: Callable[[str], str], timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """Poll every instance's /ping until 200; return why not (supervisord gave up on one, a timeout)."""
    deadline = time.monotonic() + timeout
    waiting = dict(zip(variant.program_names(), variant.instances, strict=True))
    last = "no answer yet"
    while waiting and time.monotonic() < deadline:
        for name, inst in list(waiting.items()):
            log = Path(inst.proc["log"])
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
    return f"{name} did not answer 200 on http://127.0.0.1:{inst.port}/ping within {timeout:g}s (last: {last}); see {inst.proc['log']}"


def variant_id(version: int) -> str:
    return f"v{version}-{stamp()}"


def release(variant: Variant) -> None:
    """Run each instance's cleanup commands (an image-runtime working container) once it has stopped."""
    release_instances(variant.instances)


def release_instances(instances: Iterable[Instance]) -> None:
    for inst in instances:
        for argv in inst.cleanup:
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


def stop_variant(variant: Variant, *, kill: bool = False) -> bool:
    """Stop an unsupervised variant's recorded process group (only if it is still ours); release it.

    ``kill``: at once (SIGKILL), for a server with no request left to answer.
    """
    stopped = procs.kill(variant.proc) if kill else procs.stop(variant.proc)
    release(variant)
    return stopped
