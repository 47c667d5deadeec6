"""Real-time endpoints: an nginx router with a stable URL in front of serve variants.

The endpoint record is SageMaker's ``Endpoint`` plus what only this machine needs: the router's
and each variant's process record (``router``, ``fleet``) and the current weights. Operations on
one endpoint claim it for their whole duration, so two deploys of the same endpoint cannot
interleave; different endpoints and other verbs proceed in parallel.
"""

from __future__ import annotations

import http.client
from typing import Any

from ml.backends.base import LogSink
from ml.backends.local import procs
from ml.backends.local.clock import now_iso, stamp
from ml.backends.local.fleet import Variant, start_variant, stop_variant, variant_id
from ml.backends.local.layout import Layout
from ml.backends.local.programs import Programs
from ml.backends.local.router import Router, Upstream
from ml.backends.local.store import StateStore
from ml.backends.records import Endpoint, Invocation, ModelVersion
from ml.backends.records import Variant as VariantRecord
from ml.errors import NotFoundError, StateError, UserInputError

KIND = "endpoints"
CONFIG_KIND = "endpoint-configs"


class Endpoints:
    def __init__(self, *, store: StateStore, layout: Layout, programs: Programs, variant_name: str) -> None:
        self.store = store
        self.layout = layout
        self.programs = programs
        self.variant_name = variant_name

    # -- records -----------------------------------------------------------------------------

    def load(self, name: str) -> dict[str, Any] | None:
        return self.store.get(KIND, name)

    def require(self, name: str, *, verb: str) -> dict[str, Any]:
        record = self.load(name)
        if record is None:
            raise NotFoundError(
                f"endpoint {name!r} does not exist, so there is nothing to {verb}; create it with `invoke deploy --mode endpoint`"
            )
        return record

    def save(self, record: dict[str, Any], **changes: Any) -> dict[str, Any]:
        updated = record | changes | {"updated_at": now_iso()}
        fleet = [Variant.from_dict(v) for v in updated.get("fleet", [])]
        weights: dict[str, int] = updated.get("weights", {})
        updated["variants"] = [
            VariantRecord(name=f"{self.variant_name}/{v.id}", version=v.version, weight=weights.get(v.id, 0) / 100, url=v.url).to_dict()
            for v in fleet
        ]
        self.store.put(KIND, updated["name"], updated)
        return updated

    def router(self, name: str) -> Router:
        return Router(prefix=self.layout.router_dir(name))

    def start_green(self, record: dict[str, Any], version: ModelVersion) -> Variant:
        """Start a variant and record its PID the moment it exists, so teardown can always find it."""
        base = self.layout.variant_dir(record["name"], variant_id(version.version))

        def remember(variant: Variant) -> None:
            self.save(record, fleet=[*record.get("fleet", []), variant.to_dict()])

        return start_variant(programs=self.programs, version=version, base_dir=base, on_spawn=remember)

    def record_config(self, name: str, version: ModelVersion) -> str:
        config_name = f"{name}-v{version.version}-{stamp()}"
        config = {"name": config_name, "created_at": now_iso(), "variants": [{"name": self.variant_name, "version": version.version}]}
        self.store.put(CONFIG_KIND, config_name, config)
        return config_name

    # -- verbs -------------------------------------------------------------------------------

    def deploy(self, *, name: str, version: ModelVersion) -> Endpoint:
        with self.store.claim("endpoint", name):
            existing = self.load(name)
            if existing is not None and existing["status"] != "Failed":
                raise UserInputError(
                    f"endpoint {name!r} already exists and serves model version {existing.get('version')} at {existing.get('url')}; "
                    f"change its version with `invoke deploy --mode update --version {version.version}`, "
                    "or remove it with `invoke teardown`"
                )
            if existing is not None:
                self._stop_all(existing)
            record = self.save(
                {"name": name, "status": "Creating", "created_at": now_iso(), "fleet": [], "weights": {}, "previous_versions": []},
                config_name=self.record_config(name, version),
            )
            try:
                variant = self.start_green(record, version)
                record = self.load(name) or record
                router = self.router(name).start(
                    port=procs.free_port(), upstreams=[Upstream(name=variant.id, port=variant.port, weight=100)]
                )
            except BaseException as err:
                failed = self.load(name) or record
                self._stop_all(failed)
                self.save(failed, status="Failed", failure_reason=str(err), fleet=[], router=None)
                raise
            url = f"http://127.0.0.1:{router['port']}"
            done = self.save(record, status="InService", router=router, url=url, version=version.version, weights={variant.id: 100})
            return Endpoint.from_dict(done)

    def describe(self, *, name: str) -> Endpoint:
        record = self.load(name)
        if record is None:
            raise NotFoundError(f"endpoint {name!r} does not exist; create it with `invoke deploy --mode endpoint`")
        return Endpoint.from_dict(record)

    def list_all(self) -> list[Endpoint]:
        return [Endpoint.from_dict(r) for r in self.store.list(KIND)]

    def invoke(self, *, name: str, body: bytes, content_type: str, accept: str) -> Invocation:
        record = self.load(name)
        if record is None or not record.get("router"):
            raise NotFoundError(f"endpoint {name!r} does not exist or is not serving; create it with `invoke deploy --mode endpoint`")
        if not procs.is_ours(record["router"]):
            raise StateError(
                f"endpoint {name!r}'s router is not running (the machine restarted?); run `invoke teardown`, then deploy again"
            )
        conn = http.client.HTTPConnection("127.0.0.1", int(record["router"]["port"]), timeout=60)
        try:
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": content_type, "Accept": accept})
            answer = conn.getresponse()
            return Invocation(
                status_code=answer.status,
                content_type=answer.getheader("Content-Type", ""),
                body=answer.read(),
                variant=answer.getheader("X-Byoc-Variant", ""),
            )
        finally:
            conn.close()

    def teardown(self, *, name: str | None) -> list[str]:
        records = [r for r in [self.load(name)] if r is not None] if name else self.store.list(KIND)
        if name and not records:
            stray = procs.stop_under(self.layout.endpoint_dir(name))  # a run killed before its first write
            return [f"endpoint {name!r} does not exist; nothing to tear down"] + (
                [f"stopped {len(stray)} unrecorded process(es) of endpoint {name}"] if stray else []
            )
        lines: list[str] = []
        for record in records:
            with self.store.claim("endpoint", record["name"]):
                lines += self._stop_all(record)
                self.store.delete(KIND, record["name"])
                lines.append(f"deleted endpoint {record['name']}")
        if name is None:
            stray = procs.stop_under(self.layout.state / "endpoints")
            lines += [f"stopped {len(stray)} unrecorded endpoint process(es)"] if stray else []
        return lines

    def converge(self, record: dict[str, Any], *, say: LogSink | None = None) -> dict[str, Any]:
        """After a killed run: roll an interrupted update back to the settled variant. Call claimed.

        A run killed mid-update leaves the record Failed (the store's recovery) with blue and
        green both in the fleet, and maybe a variant it never recorded. The settled variant (the
        one serving ``version``, else the heaviest live one) gets all traffic; every other
        process working under the endpoint's folder is stopped. Without a live router or
        variant nothing can be rolled back: the record stays Failed and deploy recreates it.
        """
        fleet = [Variant.from_dict(v) for v in record.get("fleet", [])]
        router = record.get("router")
        live = [v for v in fleet if procs.is_ours(v.proc)]
        weights: dict[str, int] = record.get("weights", {})
        settled = [v for v in live if v.version == record.get("version")] or sorted(live, key=lambda v: -weights.get(v.id, 0))
        if record.get("status") != "Failed" and len(fleet) <= 1:
            return record
        if not settled or not router or not procs.is_ours(router):
            return record
        keep = settled[0]
        router = self.router(record["name"]).shift(record=router, upstreams=[Upstream(name=keep.id, port=keep.port, weight=100)])
        for variant in fleet:
            if variant.id != keep.id:
                stop_variant(variant)
        stray = procs.stop_under(self.layout.endpoint_dir(record["name"]), keep=[router, keep.proc])
        why = f"rolled back to version {keep.version} after an interrupted run ({record.get('failure_reason') or 'no reason recorded'})"
        if say is not None:
            say(f"endpoint {record['name']!r}: {why}; stopped {len(fleet) - 1} variant(s) and {len(stray)} unrecorded process(es)")
        return self.save(
            record,
            status="InService",
            router=router,
            fleet=[keep.to_dict()],
            weights={keep.id: 100},
            version=keep.version,
            failure_reason=why,
        )

    def settle(self, name: str, *, say: LogSink | None = None) -> dict[str, Any] | None:
        """The endpoint's record after :meth:`converge`, under the endpoint's claim; None if absent."""
        with self.store.claim("endpoint", name):
            record = self.load(name)
            return None if record is None else self.converge(record, say=say)

    def _stop_all(self, record: dict[str, Any]) -> list[str]:
        lines = []
        router = record.get("router")
        if router:
            stopped = procs.stop(router)
            lines.append(f"{'stopped' if stopped else 'already gone:'} router pid {router['pid']} ({record.get('url', '')})")
        for data in record.get("fleet", []):
            variant = Variant.from_dict(data)
            stopped = stop_variant(variant)
            state = "stopped" if stopped else "already gone:"
            lines.append(f"{state} variant {variant.id} (model version {variant.version}, pid {variant.proc['pid']})")
        # What a killed run started but never recorded (or a later write dropped) works here too.
        stray = procs.stop_under(self.layout.endpoint_dir(record["name"]))
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of endpoint {record['name']}: pids {', '.join(map(str, stray))}")
        return lines
