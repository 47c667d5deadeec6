"""The local endpoint's record: SageMaker's ``Endpoint`` plus what only this machine needs.

The router's process record, the fleet of serve variants and their traffic weights travel
together in one frozen value; every change is a new value saved whole (``Endpoints.save``), so
no function can half-update the record it was handed. The JSON form is what the state store
keeps and what the kill tests read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ml.backends.local.autoscale.policy import ScalingPolicy
from ml.backends.local.fleet import Variant
from ml.backends.records import Endpoint, EndpointStatus
from ml.backends.records import Variant as VariantRecord


@dataclass(frozen=True, kw_only=True)
class EndpointState:
    name: str
    status: EndpointStatus
    created_at: str = ""
    updated_at: str = ""
    config_name: str = ""
    version: int = 0  # the version served once settled: an interrupted update rolls back to it
    url: str = ""
    router: Mapping[str, Any] | None = None  # the router's port and config generation (pid: as last seen)
    supervisor: Mapping[str, Any] | None = None  # the endpoint's supervisord process record
    fleet: tuple[Variant, ...] = ()
    weights: Mapping[str, int] = field(default_factory=dict)  # variant id -> percent of traffic
    previous_versions: tuple[int, ...] = ()  # for rollback, newest last
    failure_reason: str = ""
    scaling: ScalingPolicy | None = None  # the autoscaling policy it runs under; None: a fixed count

    def to_dict(self, *, variant_name: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "config_name": self.config_name,
            "version": self.version,
            "url": self.url,
            "router": dict(self.router) if self.router else None,
            "supervisor": dict(self.supervisor) if self.supervisor else None,
            "fleet": [v.to_dict() for v in self.fleet],
            "weights": dict(self.weights),
            "previous_versions": list(self.previous_versions),
            "failure_reason": self.failure_reason,
            "scaling": self.scaling.to_dict() if self.scaling else None,
            "variants": [v.to_dict() for v in self.variants(variant_name)],  # the public view, for `describe`
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EndpointState:
        return cls(
            name=str(data["name"]),
            status=data["status"],
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
            config_name=str(data.get("config_name", "")),
            version=int(data.get("version") or 0),
            url=str(data.get("url", "")),
            router=data.get("router") or None,
            supervisor=data.get("supervisor") or None,
            fleet=tuple(Variant.from_dict(v) for v in data.get("fleet", [])),
            weights={str(k): int(v) for k, v in (data.get("weights") or {}).items()},
            previous_versions=tuple(int(v) for v in data.get("previous_versions", [])),
            failure_reason=str(data.get("failure_reason", "")),
            scaling=ScalingPolicy.from_dict(data["scaling"]) if data.get("scaling") else None,
        )

    def variants(self, variant_name: str) -> list[VariantRecord]:
        return [
            VariantRecord(
                name=f"{variant_name}/{v.id}",
                version=v.version,
                weight=self.weights.get(v.id, 0) / 100,
                url=v.url,
                current_instance_count=v.count,
                desired_instance_count=v.count,
            )
            for v in self.fleet
        ]

    def public(self, *, variant_name: str) -> Endpoint:
        return Endpoint(
            name=self.name,
            status=self.status,
            config_name=self.config_name,
            version=self.version,
            url=self.url,
            variants=tuple(self.variants(variant_name)),
            previous_versions=list(self.previous_versions),
            created_at=self.created_at,
            updated_at=self.updated_at,
            failure_reason=self.failure_reason,
        )
