"""The records and processes of this project's local endpoints: what every verb works through.

An endpoint is an nginx router with a stable URL in front of serve variants, all run by the
endpoint's own supervisord. Its record (:class:`EndpointState`) says what runs and how; this
class reads and saves it, claims the endpoint for a verb, and turns a changed record into
changed processes (the supervisord config, the router's weights). The verbs (:mod:`hosting`,
:mod:`bluegreen`, :mod:`recovery`, the autoscaler) go through it and nothing else.

Operations on one endpoint claim it for their whole duration, so two deploys of the same
endpoint cannot interleave; different endpoints and other verbs proceed in parallel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ml.backends.base import LogSink
from ml.backends.local import procs
from ml.backends.local.autoscale import status as scaling_status
from ml.backends.local.capture import CaptureConf
from ml.backends.local.clock import now_iso, stamp
from ml.backends.local.endpoint_state import EndpointEvent, EndpointSettings, EndpointState, EventKind
from ml.backends.local.fleet import prepare_variant, release, resized, variant_id, wait_healthy
from ml.backends.local.layout import Layout, safe_name
from ml.backends.local.programs import Programs
from ml.backends.local.records import Program, ScalingStatus, Upstream, Variant
from ml.backends.local.router import BACK, FRONT, Router
from ml.backends.local.store import StateStore
from ml.backends.local.supervise import pgrun, status
from ml.backends.local.supervise.control import Supervisor
from ml.backends.records import ModelVersion
from ml.errors import JobFailedError, NotFoundError, StateError

KIND = "endpoints"
CONFIG_KIND = "endpoint-configs"
ROUTER_WAIT_S = 15.0
AUTOSCALER = "autoscaler"  # supervisord's name for the endpoint's autoscaler
# A user's verb waits this long for the endpoint's autoscaler to finish a scaling step (seconds:
# it starts or stops one instance); another user's run still holds it after that and is named.
CLAIM_WAIT_S = 30.0
CODE_ROOT = Path(__file__).resolve().parents[3]  # the checkout holding the ml package


class Endpoints:
    def __init__(self, *, store: StateStore, layout: Layout, programs: Callable[[], Programs], say: LogSink | None = None) -> None:
        self.store = store
        self.layout = layout
        self._programs = programs  # how new instances start (asked only when one is prepared)
        self._say = say

    def say(self, line: str) -> None:
        if self._say is not None:
            self._say(line)

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
        self.store.put(KIND, updated.name, updated.to_dict())
        return updated

    def settle(
        self, state: EndpointState, *, kind: EventKind, version: int, config_name: str, detail: str = "", **changes: Any
    ) -> EndpointState:
        """InService on ``version`` under ``config_name``, with the event that put it there in its history."""
        event = EndpointEvent(at=now_iso(), kind=kind, version=version, config_name=config_name, detail=detail)
        changes.setdefault("failure_reason", "")
        return self.save(state, status="InService", version=version, config_name=config_name, history=(*state.history, event), **changes)

    def names(self) -> list[str]:
        return sorted(str(r["name"]) for r in self.store.list(KIND))

    def record_config(self, name: str, version: ModelVersion, settings: EndpointSettings) -> str:
        """SageMaker's CreateEndpointConfig: one variant of ``version``, kept for the record."""
        config_name = f"{name}-v{version.version}-{stamp()}"
        variant = {"name": settings.variant_name, "version": version.version, "instances": settings.instances}
        config = {"name": config_name, "created_at": now_iso(), "variants": [variant], **settings.to_dict()}
        self.store.put(CONFIG_KIND, config_name, config)
        return config_name

    @contextlib.contextmanager
    def claim(self, name: str, *, doing: str, wait: float = CLAIM_WAIT_S) -> Iterator[None]:
        """The endpoint for this run alone; a run that must wait is told who holds it, and waits."""
        with self.store.claim("endpoint", name, wait=wait, doing=doing, on_wait=self._say):
            yield

    # -- processes ---------------------------------------------------------------------------

    def supervisor(self, name: str) -> Supervisor:
        return Supervisor(folder=self.layout.supervisor_dir(name))

    def alive(self, name: str) -> bool:
        """Whether the endpoint's supervisord runs (after a reboot it does not)."""
        return self.supervisor(name).alive()

    def access_log(self, state: EndpointState) -> Path:
        """The router's log of every attempt on a variant: what the alarms and the autoscaler read."""
        return self.router(state).access_log

    def scaling_status(self, name: str) -> ScalingStatus | None:
        return scaling_status.read(self.layout.supervisor_dir(name))

    def record_scaling(self, name: str, status: ScalingStatus) -> None:
        scaling_status.write(self.layout.supervisor_dir(name), status)

    def router(self, state: EndpointState) -> Router:
        capture = state.settings.capture
        conf = None
        if capture is not None:  # the variant's name in the path is the config's (AllTraffic), as SageMaker writes it
            root = capture.root / safe_name(state.name, what="endpoint name")
            conf = CaptureConf(root=root, variant=state.settings.variant_name, sampling_percent=capture.sampling_percent)
        return Router(prefix=self.layout.router_dir(state.name), nginx=state.settings.toolchain.nginx, capture=conf)

    def programs_of(self, state: EndpointState) -> list[Program]:
        """Every program of the endpoint: a function of its record alone, whoever asks and from where."""
        env = state.settings.toolchain.env()
        fleet = [p for v in state.fleet for p in v.programs()]
        return self.router(state).programs(env=env) + fleet + ([self._autoscaler(state, env)] if state.settings.scaling else [])

    def _autoscaler(self, state: EndpointState, env: dict[str, str]) -> Program:
        argv = [state.settings.toolchain.python, "-m", "ml.backends.local.autoscale",
                "--root", str(self.layout.root), "--state", str(self.layout.state), "--endpoint", state.name]  # fmt: skip
        folder = self.layout.supervisor_dir(state.name)
        # It imports this checkout's ml package.
        return Program(
            name=AUTOSCALER, argv=argv, env=env | {"PYTHONPATH": str(CODE_ROOT)}, directory=folder, log=folder / "autoscaler.log"
        )

    def apply(self, state: EndpointState) -> None:
        """Make supervisord run what the record says; the router is never restarted by it."""
        self.supervisor(state.name).update(self.programs_of(state), toolchain=state.settings.toolchain, keep=(BACK, FRONT))

    def _running_pid(self, state: EndpointState, program: str) -> int | None:
        try:
            found = self.supervisor(state.name).states().get(program)
        except OSError:
            return None
        return found.pid if found is not None and found.state == "RUNNING" else None

    def running(self, state: EndpointState) -> set[str]:
        """The programs supervisord counts as running now (none when it is down)."""
        sv = self.supervisor(state.name)
        try:
            return {n for n, p in sv.states().items() if p.state == "RUNNING"}
        except OSError:
            return set()

    def live(self, state: EndpointState) -> status.Live:
        return status.read(state, self.supervisor(state.name))

    @staticmethod
    def _upstreams(state: EndpointState, weights: Mapping[str, int], backup: Variant | None = None) -> list[Upstream]:
        upstreams = [u for v in state.fleet if weights.get(v.id, 0) > 0 for u in v.upstreams(percent=weights[v.id])]
        return upstreams + (backup.upstreams(percent=0, backup=True) if backup is not None else [])

    def prepare_router(self, state: EndpointState) -> None:
        """Write the router's configs for the recorded ports and weights (before its supervisord starts)."""
        if state.router is None:
            raise StateError(f"endpoint {state.name!r} has no router recorded")
        self.router(state).prepare(record=state.router, upstreams=self._upstreams(state, state.weights))

    def shift(self, state: EndpointState, weights: dict[str, int], *, backup: Variant | None = None) -> EndpointState:
        """Route by ``weights`` (variant id -> percent; ``backup`` answers only when they cannot) and record them.

        A router being restarted right now is waited for: a shift that meets a restart goes on
        once the router is back rather than failing the update.
        """
        upstreams = self._upstreams(state, weights, backup)
        deadline = time.monotonic() + ROUTER_WAIT_S
        while (master := self._running_pid(state, BACK)) is None or state.router is None:
            if time.monotonic() > deadline or state.router is None:
                raise StateError(f"endpoint {state.name!r}'s router is not running: {self.live(state).reason or 'see `invoke describe`'}")
            time.sleep(0.05)
        shifted = self.router(state).shift(record=state.router, upstreams=upstreams, master=master)
        return self.save(state, router=shifted, weights=weights)

    def new_variant(self, name: str, version: ModelVersion, *, instances: int, config_name: str) -> Variant:
        """A variant of ``version`` ready to run: its model unpacked, its instances' ports chosen; nothing started."""
        folder = self.layout.variant_dir(name, variant_id(version.version))
        variant = prepare_variant(programs=self._programs(), version=version, base_dir=folder, instances=instances)
        return dataclasses.replace(variant, config_name=config_name)

    def more_instances(self, variant: Variant, *, count: int) -> Variant:
        """``variant`` with ``count`` instances: the first ones kept, new ones prepared on free ports."""
        return resized(variant, programs=self._programs(), count=count)

    def start_variant(
        self, state: EndpointState, version: ModelVersion, *, instances: int, config_name: str
    ) -> tuple[Variant, EndpointState]:
        """Add a variant of ``instances`` (recorded first, no traffic yet); wait for every /ping."""
        green = self.new_variant(state.name, version, instances=instances, config_name=config_name)
        state = self.save(state, fleet=(*state.fleet, green))
        self.apply(state)
        problem = self.wait_up(state, green)
        if problem:
            self.retire(state, green)
            raise JobFailedError(f"model version {version.version} failed its health check: {problem}")
        return green, state

    def wait_up(self, state: EndpointState, variant: Variant) -> str | None:
        """Wait until every instance answers /ping and supervisord counts it started; else why not."""
        sv = self.supervisor(state.name)
        problem = wait_healthy(variant, state_of=lambda program: self._state_of(sv, program))
        if not problem:
            try:
                sv.wait_running(variant.program_names())
            except StateError as err:
                problem = str(err)
        return problem

    @staticmethod
    def _state_of(sv: Supervisor, program: str) -> str:
        try:
            found = sv.states().get(program)
        except OSError:
            return "GONE"
        return found.state if found else "GONE"

    def down(self, state: EndpointState, variant: Variant) -> list[str]:
        """The variant's instances that supervisord does not count as running now."""
        running = self.running(state)
        return [p for p in variant.program_names() if p not in running]

    def retire(self, state: EndpointState, variant: Variant) -> EndpointState:
        """Stop a variant (its whole process group) and forget it; its weight must already be gone."""
        state = self.save(
            state,
            fleet=tuple(v for v in state.fleet if v.id != variant.id),
            weights={k: w for k, w in state.weights.items() if k != variant.id},
        )
        self.apply(state)
        release(variant)
        return state

    def bring_up(self, state: EndpointState) -> EndpointState:
        """Start the endpoint's supervisord with its router and fleet; return once all answer."""
        router = state.router
        if router is None:
            raise StateError(f"endpoint {state.name!r} has no router recorded")
        sv = self.supervisor(state.name)
        record = sv.start(self.programs_of(state), toolchain=state.settings.toolchain)
        state = self.save(state, supervisor=record)  # recorded before the waits: teardown can always find it
        for variant in state.fleet:
            problem = wait_healthy(variant, state_of=lambda program: self._state_of(sv, program))
            if problem:
                raise JobFailedError(f"model version {variant.version} failed its health check: {problem}")
        self.router(state).wait_ready(record=router)
        sv.wait_running([p.name for p in self.programs_of(state)])
        return state

    def stop_all(self, state: EndpointState) -> list[str]:
        """Stop the endpoint's supervisord and every process group it ran, orphans included."""
        lines = []
        sv = self.supervisor(state.name)
        if state.supervisor:
            running = procs.is_ours(state.supervisor)
            sv.shutdown(state.supervisor)
            lines.append(f"{'stopped' if running else 'already gone:'} supervisor of {state.name} (router {state.url})")
        lines += self.stop_strays(state.name)
        for variant in state.fleet:
            release(variant)
            lines.append(f"stopped variant {variant.id} (model version {variant.version})")
        return lines

    def stop_strays(self, name: str) -> list[str]:
        """A supervisord still answering on the endpoint's socket, orphans of dead masters (by their
        recorded process groups), then whatever else works under the endpoint's folder."""
        lines = []
        folder = self.layout.endpoint_dir(name)
        sv = self.supervisor(name)
        sv.shutdown(None)
        orphans = [pid for f in sorted(sv.folder.glob(".*.pgid")) for pid in pgrun.kill_previous(f, str(folder))]
        if orphans:
            lines.append(f"killed {len(orphans)} orphaned process(es) of dead masters: pids {', '.join(map(str, orphans))}")
        # What a killed run started but never recorded works under the endpoint's folder too.
        stray = procs.stop_under(folder)
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of endpoint {name}: pids {', '.join(map(str, stray))}")
        return lines

    def stop_unrecorded(self) -> list[str]:
        """Every process working under any endpoint's folder, recorded or not (`invoke teardown --all`)."""
        stray = procs.stop_under(self.layout.state / KIND)
        return [f"stopped {len(stray)} unrecorded endpoint process(es)"] if stray else []

    def forget(self, name: str) -> None:
        """Delete the record and the endpoint's folder (a new endpoint of this name starts a new life)."""
        self.store.delete(KIND, name)
        shutil.rmtree(self.layout.endpoint_dir(name), ignore_errors=True)
