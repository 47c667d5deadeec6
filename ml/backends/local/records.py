"""The local endpoint's plain records: processes, programs, the router, variants, scaling and capture.

Bottom layer of the local backend: this module imports nothing else of it, so every other
module (the store's users, the supervisor, the router, the autoscaler) shares one typed value
for each fact instead of passing ``dict[str, Any]`` around. Each record has a JSON form
(``to_dict``/``from_dict``) because the state store and the supervised programs keep them as JSON.
"""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.errors import ByocError, UserInputError

# What the endpoint's programs find on PATH: the system's folders, never the caller's PATH, so a
# command run from another shell (pipenv run, an IDE, cron) writes the same program definitions.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NGINX = "/usr/sbin/nginx"


@dataclass(frozen=True, kw_only=True)
class ProcessRecord:
    """A process this backend started: pid **and** start time, so a reused pid is never signalled."""

    pid: int
    started: float  # epoch seconds, from /proc
    argv: tuple[str, ...] = ()
    log: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "started": self.started, "argv": list(self.argv), "log": self.log}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(pid=int(data["pid"]), started=float(data["started"]), argv=tuple(data.get("argv", ())), log=str(data.get("log", "")))


@dataclass(frozen=True, kw_only=True)
class ProcessState:
    """One program as supervisord sees it now."""

    name: str
    state: str  # supervisord's word: RUNNING, STARTING, BACKOFF, EXITED, FATAL, STOPPED
    pid: int
    started: float  # epoch seconds, 0 when not running
    detail: str  # supervisord's description ("pid 123, uptime 0:01:02" or the exit status)


@dataclass(frozen=True, kw_only=True)
class Program:
    """One long-running process of an endpoint, as its supervisord runs it."""

    name: str  # "router-back", "router-front", a variant's instance, "autoscaler"
    argv: Sequence[str]
    env: Mapping[str, str]
    directory: Path  # its working directory, under the endpoint's folder (teardown's marker)
    log: Path
    health_url: str = ""  # an instance's /ping; empty for the others


def program_env(python: str) -> dict[str, str]:
    """The environment of every program the backend starts, built explicitly: the system's PATH
    after the interpreter's folder, the account's home, a UTF-8 locale; nothing of the caller's
    (its PATH, TMPDIR, AWS or proxy settings), so every shell starts the same programs."""
    home = pwd.getpwuid(os.geteuid()).pw_dir
    return {"PATH": f"{Path(python).parent}:{SYSTEM_PATH}", "HOME": home, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """The interpreter and nginx an endpoint's programs run with, chosen once when it is created.

    Recorded on the endpoint, so every later rewrite of its supervisord config (an update, a
    scaling step, a rollback, from any shell) names the same programs: supervisord restarts a
    program whose definition changed, and a restarted router drops requests.
    """

    python: str  # runs supervisord, its helpers (pgrun, the health checker) and the autoscaler
    nginx: str

    @classmethod
    def discover(cls, python: str) -> Toolchain:
        found = shutil.which("nginx") or shutil.which("nginx", path=SYSTEM_PATH) or (NGINX if Path(NGINX).exists() else None)
        if found is None:
            raise ByocError("nginx is not installed; the local endpoint routes through it (Debian: `apt-get install nginx`)")
        return cls(python=python, nginx=found)

    def env(self) -> dict[str, str]:
        """Every program's environment, built from the project alone (nothing of the caller's)."""
        return program_env(self.python)

    def to_dict(self) -> dict[str, Any]:
        return {"python": self.python, "nginx": self.nginx}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Toolchain:
        return cls(python=str(data["python"]), nginx=str(data["nginx"]))


@dataclass(frozen=True, kw_only=True)
class RouterRecord:
    """The router's ports and the generation of its back's config (its pids are supervisord's to know)."""

    port: int  # the endpoint's URL
    back_port: int  # the back nginx, behind the front
    generation: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "back_port": self.back_port, "generation": self.generation}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouterRecord:
        return cls(port=int(data["port"]), back_port=int(data["back_port"]), generation=int(data.get("generation", 1)))


@dataclass(frozen=True, kw_only=True)
class Upstream:
    name: str  # the variant id, echoed to clients in X-Byoc-Variant
    port: int
    weight: int  # nginx has no weight 0, so a variant with no traffic is a backup or absent
    backup: bool = False

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, kw_only=True)
class Instance:
    """One copy of a variant's model server (SageMaker's instance): its port and how it starts."""

    port: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log: Path
    cleanup: tuple[tuple[str, ...], ...] = ()  # commands that release it once stopped (a buildah container)

    def to_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "argv": list(self.argv),
            "env": dict(self.env),
            "log": str(self.log),
            "cleanup": [list(c) for c in self.cleanup],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instance:
        return cls(
            port=int(data["port"]),
            argv=tuple(data["argv"]),
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            log=Path(data["log"]),
            cleanup=tuple(tuple(c) for c in data.get("cleanup", ())),
        )


# Per-instance nginx weight = percent × WEIGHT_SCALE / instances: divisible by every count up to 6.
WEIGHT_SCALE = 60


@dataclass(frozen=True, kw_only=True)
class Variant:
    """A model version's fleet: instances that all serve the model in ``folder``/model."""

    id: str
    version: int
    folder: Path  # the variant's SAGEMAKER_BASE_DIR
    instances: tuple[Instance, ...]
    config_name: str = ""  # the endpoint config it was started for: in force while it serves

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.instances[0].port}"

    @property
    def count(self) -> int:
        return len(self.instances)

    def program_names(self) -> list[str]:
        """supervisord's name of each instance: the variant id, then ``<id>-2``, ``<id>-3`` ..."""
        return [self.id, *(f"{self.id}-{k}" for k in range(2, self.count + 1))]

    def programs(self) -> list[Program]:
        return [
            Program(name=name, argv=i.argv, env=i.env, directory=self.folder, log=i.log, health_url=f"http://127.0.0.1:{i.port}/ping")
            for name, i in zip(self.program_names(), self.instances, strict=True)
        ]

    def upstreams(self, *, percent: int, backup: bool = False) -> list[Upstream]:
        """``percent`` of the traffic, split evenly: each instance weighs percent × WEIGHT_SCALE / count,
        so the variant's total stays proportional to ``percent`` whatever its instance count."""
        weight = 1 if backup else max(1, round(percent * WEIGHT_SCALE / self.count))
        return [Upstream(name=self.id, port=i.port, weight=weight, backup=backup) for i in self.instances]

    def addrs(self) -> frozenset[str]:
        return frozenset(f"127.0.0.1:{i.port}" for i in self.instances)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "folder": str(self.folder),
            "instances": [i.to_dict() for i in self.instances],
            "config_name": self.config_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Variant:
        return cls(
            id=str(data["id"]),
            version=int(data["version"]),
            folder=Path(data["folder"]),
            instances=tuple(Instance.from_dict(i) for i in data["instances"]),
            config_name=str(data.get("config_name", "")),
        )


@dataclass(frozen=True, kw_only=True)
class ScalingPolicy:
    """Target tracking on invocations per instance, with local mode's window and cooldowns."""

    min_instances: int
    max_instances: int
    target_per_minute: int  # invocations per instance per minute
    window_s: float
    scale_out_cooldown_s: float
    scale_in_cooldown_s: float

    def __post_init__(self) -> None:
        if not 1 <= self.min_instances <= self.max_instances:
            raise UserInputError(
                f"autoscaling needs 1 <= min instances <= max instances, not {self.min_instances} and {self.max_instances}"
            )
        if self.target_per_minute < 1 or self.window_s <= 0:
            raise UserInputError(f"autoscaling needs a positive target and window, not {self.target_per_minute} and {self.window_s}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "target_per_minute": self.target_per_minute,
            "window_s": self.window_s,
            "scale_out_cooldown_s": self.scale_out_cooldown_s,
            "scale_in_cooldown_s": self.scale_in_cooldown_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingPolicy:
        return cls(
            min_instances=int(data["min_instances"]),
            max_instances=int(data["max_instances"]),
            target_per_minute=int(data["target_per_minute"]),
            window_s=float(data["window_s"]),
            scale_out_cooldown_s=float(data["scale_out_cooldown_s"]),
            scale_in_cooldown_s=float(data["scale_in_cooldown_s"]),
        )


@dataclass(frozen=True, kw_only=True)
class ScalingStatus:
    """What the autoscaler last saw and did (``scaling.json``): the serving variant's counts and why."""

    variant: str
    current: int
    desired: int
    per_instance_per_minute: float
    reason: str
    time: str
    activities: tuple[str, ...] = ()  # "<time> <what was done> (<why>)", oldest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "current": self.current,
            "desired": self.desired,
            "per_instance_per_minute": round(self.per_instance_per_minute, 1),
            "reason": self.reason,
            "time": self.time,
            "activities": list(self.activities),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingStatus:
        return cls(
            variant=str(data["variant"]),
            current=int(data["current"]),
            desired=int(data["desired"]),
            per_instance_per_minute=float(data["per_instance_per_minute"]),
            reason=str(data["reason"]),
            time=str(data["time"]),
            activities=tuple(str(a) for a in data.get("activities", ())),
        )


@dataclass(frozen=True, kw_only=True)
class CaptureSettings:
    """SageMaker's DataCaptureConfig, locally: where the router writes and what share it samples."""

    root: Path  # the local data lake's capture prefix; the endpoint's records go under root/<endpoint>
    sampling_percent: int  # 1-100

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "sampling_percent": self.sampling_percent}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaptureSettings:
        return cls(root=Path(data["root"]), sampling_percent=int(data["sampling_percent"]))
