"""Real-time endpoints: an nginx router with a stable URL in front of serve variants.

The endpoint's record (:class:`EndpointState`) is SageMaker's ``Endpoint`` plus what only this
machine needs: the router's and each variant's process record and the current weights.
Operations on one endpoint claim it for their whole duration, so two deploys of the same
endpoint cannot interleave; different endpoints and other verbs proceed in parallel.
"""

from __future__ import annotations

import dataclasses
import http.client
from pathlib import Path
from typing import Any

from ml.backends.base import LogSink
from ml.backends.local import procs
from ml.backends.local.capture import CaptureConf
from ml.backends.local.clock import now_iso, stamp
from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.fleet import Variant, start_variant, stop_variant, variant_id
from ml.backends.local.layout import Layout, safe_name
from ml.backends.local.programs import Programs
from ml.backends.local.router import Router, Upstream
from ml.backends.local.store import StateStore
from ml.backends.records import Endpoint, Invocation, ModelVersion
from ml.errors import NotFoundError, StateError, UserInputError

KIND = "endpoints"
CONFIG_KIND = "endpoint-configs"


class Endpoints:
    def __init__(
        self,
        *,
        store: StateStore,
        layout: Layout,
        programs: Programs,
        variant_name: str,
        capture_root: Path | None = None,
        capture_percent: int = 100,
    ) -> None:
        self.store = store
        self.layout = layout
        self.programs = programs
        self.variant_name = variant_name
        self.capture_root = capture_root  # None: no data capture
        self.capture_percent = capture_percent

    # -- records -----------------------------------------------------------------------------

    def load(self, name: str) -> EndpointState | None:
        data = self.store.get(KIND, name)
        return None if data is None else EndpointState.from_dict(data)

    def require(self, name: str, *, verb: str) -> EndpointState:
        state = self.load(name)
        if state is None:
            raise NotFoundError(
                f"endpoint {name!r} does not exist, so there is nothing to {verb}; create it with `invoke deploy --mode endpoint`"
            )
        return state

    def save(self, state: EndpointState, **changes: Any) -> EndpointState:
        updated = dataclasses.replace(state, **changes, updated_at=now_iso())
        self.store.put(KIND, updated.name, updated.to_dict(variant_name=self.variant_name))
        return updated

    def public(self, state: EndpointState) -> Endpoint:
        return state.public(variant_name=self.variant_name)

    def router(self, name: str) -> Router:
        return Router(prefix=self.layout.router_dir(name), capture=self.capture(name))

    def capture(self, name: str) -> CaptureConf | None:
        """Where the endpoint's router records its traffic, in SageMaker's layout (None: capture is off)."""
        if self.capture_root is None:
            return None
        root = self.capture_root / safe_name(name, what="endpoint name")
        # The variant's name in the path is the config's (AllTraffic), as SageMaker writes it.
        return CaptureConf(root=root, variant=self.variant_name, sampling_percent=self.capture_percent)

    def start_green(self, state: EndpointState, version: ModelVersion) -> tuple[Variant, EndpointState]:
        """Start a variant and record its PID the moment it exists, so teardown can always find it."""
        base = self.layout.variant_dir(state.name, variant_id(version.version))
        saved = state

        def remember(variant: Variant) -> None:
            nonlocal saved
            saved = self.save(state, fleet=(*state.fleet, variant))

        variant = start_variant(programs=self.programs, version=version, base_dir=base, on_spawn=remember)
        return variant, saved

    def record_config(self, name: str, version: ModelVersion) -> str:
        config_name = f"{name}-v{version.version}-{stamp()}"
        config = {"name": config_name, "created_at": now_iso(), "variants": [{"name": self.variant_name, "version": version.version}]}
        self.store.put(CONFIG_KIND, config_name, config)
        return config_name

    # -- verbs -------------------------------------------------------------------------------

    def deploy(self, *, name: str, version: ModelVersion) -> Endpoint:
        with self.store.claim("endpoint", name):
            existing = self.load(name)
            if existing is not None and existing.status != "Failed":
                raise UserInputError(
                    f"endpoint {name!r} already exists and serves model version {existing.version} at {existing.url}; "
                    f"change its version with `invoke deploy --mode update --version {version.version}`, "
                    "or remove it with `invoke teardown`"
                )
            if existing is not None:
                self._stop_all(existing)
            state = self.save(
                EndpointState(name=name, status="Creating", created_at=now_iso(), config_name=self.record_config(name, version))
            )
            try:
                variant, state = self.start_green(state, version)
                router = self.router(name).start(
                    port=procs.free_port(), upstreams=[Upstream(name=variant.id, port=variant.port, weight=100)]
                )
            except BaseException as err:
                failed = self.load(name) or state
                self._stop_all(failed)
                self.save(failed, status="Failed", failure_reason=str(err), fleet=(), router=None)
                raise
            url = f"http://127.0.0.1:{router['port']}"
            done = self.save(state, status="InService", router=router, url=url, version=version.version, weights={variant.id: 100})
            return self.public(done)

    def describe(self, *, name: str) -> Endpoint:
        state = self.load(name)
        if state is None:
            raise NotFoundError(f"endpoint {name!r} does not exist; create it with `invoke deploy --mode endpoint`")
        return self.public(state)

    def invoke(self, *, name: str, body: bytes, content_type: str, accept: str) -> Invocation:
        state = self.load(name)
        if state is None or not state.router:
            raise NotFoundError(f"endpoint {name!r} does not exist or is not serving; create it with `invoke deploy --mode endpoint`")
        if not Router.alive(state.router):
            raise StateError(
                f"endpoint {name!r}'s router is not running (the machine restarted?); run `invoke teardown`, then deploy again"
            )
        conn = http.client.HTTPConnection("127.0.0.1", int(state.router["port"]), timeout=60)
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
        states = [s for s in [self.load(name)] if s is not None] if name else [EndpointState.from_dict(r) for r in self.store.list(KIND)]
        if name and not states:
            stray = procs.stop_under(self.layout.endpoint_dir(name))  # a run killed before its first write
            return [f"endpoint {name!r} does not exist; nothing to tear down"] + (
                [f"stopped {len(stray)} unrecorded process(es) of endpoint {name}"] if stray else []
            )
        lines: list[str] = []
        for state in states:
            with self.store.claim("endpoint", state.name):
                lines += self._stop_all(state)
                self.store.delete(KIND, state.name)
                lines.append(f"deleted endpoint {state.name}")
        if name is None:
            stray = procs.stop_under(self.layout.state / "endpoints")
            lines += [f"stopped {len(stray)} unrecorded endpoint process(es)"] if stray else []
        return lines

    def converge(self, state: EndpointState, *, say: LogSink | None = None) -> EndpointState:
        """After a killed run: roll an interrupted update back to the settled variant. Call claimed.

        A run killed mid-update leaves the record Failed (the store's recovery) with blue and
        green both in the fleet, and maybe a variant it never recorded. The settled variant (the
        one serving ``version``, else the heaviest live one) gets all traffic; every other
        process working under the endpoint's folder is stopped. Without a live router or
        variant nothing can be rolled back: the record stays Failed and deploy recreates it.
        """
        if state.status != "Failed" and len(state.fleet) <= 1:
            return state
        live = [v for v in state.fleet if procs.is_ours(v.proc)]
        settled = [v for v in live if v.version == state.version] or sorted(live, key=lambda v: -state.weights.get(v.id, 0))
        if not settled or not state.router or not Router.alive(state.router):
            return state
        keep = settled[0]
        router = self.router(state.name).shift(record=dict(state.router), upstreams=[Upstream(name=keep.id, port=keep.port, weight=100)])
        for variant in state.fleet:
            if variant.id != keep.id:
                stop_variant(variant)
        stray = procs.stop_under(self.layout.endpoint_dir(state.name), keep=[*Router.records(router), keep.proc])
        why = f"rolled back to version {keep.version} after an interrupted run ({state.failure_reason or 'no reason recorded'})"
        if say is not None:
            say(f"endpoint {state.name!r}: {why}; stopped {len(state.fleet) - 1} variant(s) and {len(stray)} unrecorded process(es)")
        return self.save(
            state, status="InService", router=router, fleet=(keep,), weights={keep.id: 100}, version=keep.version, failure_reason=why
        )

    def settle(self, name: str, *, say: LogSink | None = None) -> EndpointState | None:
        """The endpoint's record after :meth:`converge`, under the endpoint's claim; None if absent."""
        with self.store.claim("endpoint", name):
            state = self.load(name)
            return None if state is None else self.converge(state, say=say)

    def _stop_all(self, state: EndpointState) -> list[str]:
        lines = []
        if state.router:
            stopped = Router.stop(state.router)
            lines.append(f"{'stopped' if stopped else 'already gone:'} router pid {state.router['pid']} ({state.url})")
        for variant in state.fleet:
            stopped = stop_variant(variant)
            word = "stopped" if stopped else "already gone:"
            lines.append(f"{word} variant {variant.id} (model version {variant.version}, pid {variant.proc['pid']})")
        # What a killed run started but never recorded (or a later write dropped) works here too.
        stray = procs.stop_under(self.layout.endpoint_dir(state.name))
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of endpoint {state.name}: pids {', '.join(map(str, stray))}")
        return lines
