"""The local endpoint's record: SageMaker's ``Endpoint`` plus what only this machine needs.

The record covers one life of the endpoint, from the deploy that creates it to its teardown:
the settings it was created with (:class:`EndpointSettings`, SageMaker's endpoint config:
variant name, instance count, autoscaling, data capture, and the programs it runs with), the
router, the fleet of serve variants and their weights, and its history as timed events. Every
change is a new value saved whole (``Endpoints.save``), so no function can half-update the
record it was handed. The JSON form is what the state store keeps and what the kill tests read.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ml.backends.local.layout import Layout
from ml.backends.local.records import CaptureSettings, ProcessRecord, RouterRecord, ScalingPolicy, Toolchain, Variant
from ml.backends.records import Endpoint, EndpointStatus
from ml.backends.records import Variant as VariantRecord
from ml.config import ProjectConfig
from ml.errors import StateError
from ml.names import VARIANT_NAME

Runtime = Literal["process", "image"]
# What moved the endpoint to the version it serves; each is one event of its history.
EventKind = Literal["created", "updated", "update rolled back", "rolled back", "recovered", "restored"]
KEEP_EVENTS = 100


@dataclass(frozen=True, kw_only=True)
class EndpointSettings:
    """What an endpoint is created with and keeps for its whole life (SageMaker's endpoint config)."""

    variant_name: str  # the production variant's name (AllTraffic): capture paths and `describe`
    instances: int  # InitialInstanceCount
    runtime: Runtime  # how the autoscaler starts more instances
    toolchain: Toolchain
    scaling: ScalingPolicy | None = None  # None: a fixed instance count
    capture: CaptureSettings | None = None  # None: no data capture

    @classmethod
    def for_local(cls, config: ProjectConfig, *, layout: Layout, runtime: Runtime) -> EndpointSettings:
        capture = CaptureSettings(root=layout.capture_root(config.capture_prefix), sampling_percent=config.capture_sampling_percent)
        return cls(
            variant_name=VARIANT_NAME,
            instances=config.hosting_instance_count,
            runtime=runtime,
            toolchain=Toolchain.discover(sys.executable),
            scaling=scaling_for_local(config),
            capture=capture if config.capture_enabled else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant_name": self.variant_name,
            "instances": self.instances,
            "runtime": self.runtime,
            "toolchain": self.toolchain.to_dict(),
            "scaling": self.scaling.to_dict() if self.scaling else None,
            "capture": self.capture.to_dict() if self.capture else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EndpointSettings:
        return cls(
            variant_name=str(data["variant_name"]),
            instances=int(data["instances"]),
            runtime="image" if data["runtime"] == "image" else "process",
            toolchain=Toolchain.from_dict(data["toolchain"]),
            scaling=ScalingPolicy.from_dict(data["scaling"]) if data.get("scaling") else None,
            capture=CaptureSettings.from_dict(data["capture"]) if data.get("capture") else None,
        )


def scaling_for_local(config: ProjectConfig) -> ScalingPolicy | None:
    """The AWS policy's bounds and target with local mode's window and cooldown; None when off."""
    if not config.autoscaling_enabled:
        return None
    return ScalingPolicy(
        min_instances=config.autoscaling_min_instances,
        max_instances=config.autoscaling_max_instances,
        target_per_minute=config.autoscaling_target_invocations,
        window_s=config.local_autoscaling_window_seconds,
        scale_out_cooldown_s=config.local_autoscaling_cooldown_seconds,
        scale_in_cooldown_s=config.local_autoscaling_cooldown_seconds,
    )


@dataclass(frozen=True, kw_only=True)
class EndpointEvent:
    """One step of the endpoint's history: when, what, and the version and config in force after it."""

    at: str
    kind: EventKind
    version: int
    config_name: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.at} {self.kind}: version {self.version} ({self.config_name}){f'; {self.detail}' if self.detail else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "version": self.version, "config_name": self.config_name, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EndpointEvent:
        return cls(
            at=str(data["at"]),
            kind=data["kind"],
            version=int(data["version"]),
            config_name=str(data["config_name"]),
            detail=str(data.get("detail", "")),
        )


def served_versions(history: tuple[EndpointEvent, ...]) -> list[int]:
    """Every version the endpoint served in this life, oldest first, a version repeated only when
    another served in between (1, 2, 1: updated to 2, then rolled back)."""
    served: list[int] = []
    for event in history:
        if not served or served[-1] != event.version:
            served.append(event.version)
    return served


def previous_versions(history: tuple[EndpointEvent, ...], current: int) -> list[int]:
    """What rollback can go back to: each version served before, once, ordered by when it last
    served (newest last), the current one left out. Rollback's default is the last of them."""
    order: list[int] = []
    for version in served_versions(history):
        if version in order:
            order.remove(version)
        order.append(version)
    return [v for v in order if v != current]


@dataclass(frozen=True, kw_only=True)
class EndpointState:
    name: str
    status: EndpointStatus
    settings: EndpointSettings
    created_at: str = ""
    updated_at: str = ""
    config_name: str = ""  # the config in force: it changes only when an update completes
    version: int = 0  # the version served once settled: an interrupted update rolls back to it
    url: str = ""
    router: RouterRecord | None = None
    supervisor: ProcessRecord | None = None  # the endpoint's supervisord
    fleet: tuple[Variant, ...] = ()
    weights: Mapping[str, int] = field(default_factory=dict)  # variant id -> percent of traffic
    failure_reason: str = ""
    history: tuple[EndpointEvent, ...] = ()  # this life's events, oldest first

    @property
    def previous_versions(self) -> list[int]:
        return previous_versions(self.history, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "settings": self.settings.to_dict(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "config_name": self.config_name,
            "version": self.version,
            "url": self.url,
            "router": self.router.to_dict() if self.router else None,
            "supervisor": self.supervisor.to_dict() if self.supervisor else None,
            "fleet": [v.to_dict() for v in self.fleet],
            "weights": dict(self.weights),
            "failure_reason": self.failure_reason,
            "history": [e.to_dict() for e in self.history[-KEEP_EVENTS:]],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EndpointState:
        if "settings" not in data:
            raise StateError(
                f"endpoint {data.get('name')!r} was recorded by an older version of the local backend; "
                "`invoke teardown` stops it (then deploy it again)"
            )
        return cls(
            name=str(data["name"]),
            status=data["status"],
            settings=EndpointSettings.from_dict(data["settings"]),
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
            config_name=str(data.get("config_name", "")),
            version=int(data.get("version") or 0),
            url=str(data.get("url", "")),
            router=RouterRecord.from_dict(data["router"]) if data.get("router") else None,
            supervisor=ProcessRecord.from_dict(data["supervisor"]) if data.get("supervisor") else None,
            fleet=tuple(Variant.from_dict(v) for v in data.get("fleet", [])),
            weights={str(k): int(v) for k, v in (data.get("weights") or {}).items()},
            failure_reason=str(data.get("failure_reason", "")),
            history=tuple(EndpointEvent.from_dict(e) for e in data.get("history", [])),
        )

    def variants(self) -> list[VariantRecord]:
        return [
            VariantRecord(
                name=f"{self.settings.variant_name}/{v.id}",
                version=v.version,
                weight=self.weights.get(v.id, 0) / 100,
                url=v.url,
                current_instance_count=v.count,
                desired_instance_count=v.count,
            )
            for v in self.fleet
        ]

    def public(self) -> Endpoint:
        return Endpoint(
            name=self.name,
            status=self.status,
            config_name=self.config_name,
            version=self.version,
            url=self.url,
            variants=tuple(self.variants()),
            previous_versions=self.previous_versions,
            created_at=self.created_at,
            updated_at=self.updated_at,
            failure_reason=self.failure_reason,
            history=tuple(e.line() for e in self.history),
        )
