"""Real-time endpoints: an nginx router with a stable URL in front of serve variants.

The endpoint's record (:class:`EndpointState`) is SageMaker's ``Endpoint`` plus what only this
machine needs: the router's and each variant's process record and the current weights.
Operations on one endpoint claim it for their whole duration, so two deploys of the same
endpoint cannot interleave; different endpoints and other verbs proceed in parallel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from ml.backends.local import procs
from ml.backends.local.autoscale.policy import ScalingPolicy
from ml.backends.local.autoscale.status import ScalingStatus
from ml.backends.local.capture import CaptureConf
from ml.backends.local.clock import now_iso, stamp
from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.fleet import Variant, prepare_variant, release, variant_id, wait_healthy
from ml.backends.local.layout import Layout, safe_name
from ml.backends.local.programs import Programs
from ml.backends.local.router import Router, Upstream
from ml.backends.local.store import StateStore
from ml.backends.local.supervise import pgrun, status
from ml.backends.local.supervise.config import Program
from ml.backends.local.supervise.control import Supervisor, procs_env
from ml.backends.records import Endpoint, Invocation, ModelVersion
from ml.errors import JobFailedError, NotFoundError, StateError, UserInputError

KIND = "endpoints"
# What the record keeps of the router: the pids are supervisord's to know (they change on restarts).
ROUTER_KEYS = ("port", "back_port", "generation")
ROUTER_WAIT_S = 15.0
AUTOSCALER = "autoscaler"
# A user's verb waits this long for the endpoint's autoscaler to finish a scaling step (seconds:
# it starts or stops one instance); another user's run still holds it after that and is named.
CLAIM_WAIT_S = 30.0  # supervisord's name for the endpoint's autoscaler
CODE_ROOT = Path(__file__).resolve().parents[3]  # the checkout holding the ml package
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
        instances: int = 1,
        scaling: ScalingPolicy | None = None,
        runtime: str = "process",
    ) -> None:
        self.store = store
        self.layout = layout
        self.programs = programs
        self.variant_name = variant_name
        self.capture_root = capture_root  # None: no data capture
        self.capture_percent = capture_percent
        self.instances = instances  # a new endpoint's instance count (SageMaker's InitialInstanceCount)
        self.scaling = scaling  # recorded on each new endpoint; None: a fixed instance count
        self.runtime = runtime  # the autoscaler starts new instances with the same programs

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

    def supervisor(self, name: str) -> Supervisor:
        return Supervisor(folder=self.layout.supervisor_dir(name))

    def programs_of(self, state: EndpointState) -> list[Program]:
        router = self.router(state.name)
        ours = [Program(name=p.name, argv=p.argv, env=p.env, directory=router.prefix, log=p.log) for p in router.processes()]
        fleet = [p for v in state.fleet for p in v.programs()]
        return ours + fleet + ([self._autoscaler(state)] if state.scaling else [])

    def _autoscaler(self, state: EndpointState) -> Program:
        argv = [
            sys.executable, "-m", "ml.backends.local.autoscale",
            "--root", str(self.layout.root), "--state", str(self.layout.state), "--endpoint", state.name,
            "--variant-name", self.variant_name, "--runtime", self.runtime,
        ]  # fmt: skip
        # It imports this checkout's ml package (supervisord passes only a minimal environment).
        env = {**procs_env(), "PYTHONPATH": str(CODE_ROOT), "PYTHONUNBUFFERED": "1"}
        folder = self.layout.supervisor_dir(state.name)
        return Program(name=AUTOSCALER, argv=argv, env=env, directory=folder, log=folder / "autoscaler.log")

    def down(self, name: str, variant: Variant) -> list[str]:
        """The variant's instances that supervisord does not count as running now."""
        return [p for p in variant.program_names() if self.state_of(name, p) != "RUNNING"]

    def state_of(self, name: str, program: str) -> str:
        try:
            found = self.supervisor(name).states().get(program)
        except OSError:
            return "GONE"
        return found.state if found else "GONE"

    def live_router(self, state: EndpointState, *, wait: float = ROUTER_WAIT_S) -> dict[str, Any]:
        """The router's record with the back master's current pid (supervisord may have restarted it).

        A router being restarted right now is waited for (``wait`` seconds): a traffic shift that
        meets a restart goes on once the router is back rather than failing the update.
        """
        sv = self.supervisor(state.name)
        back = self.router(state.name).processes()[0].name
        deadline = time.monotonic() + wait
        while True:
            master = sv.states().get(back) if sv.alive() else None
            if master is not None and master.state == "RUNNING":
                with contextlib.suppress(psutil.Error):
                    return dict(state.router or {}) | {"pid": master.pid, "started": psutil.Process(master.pid).create_time()}
            if time.monotonic() > deadline:
                raise StateError(f"endpoint {state.name!r}'s router is not running: {self.live(state).reason or 'see `invoke describe`'}")
            time.sleep(0.05)

    def shift(self, state: EndpointState, *, upstreams: list[Upstream], weights: dict[str, int]) -> EndpointState:
        """Route by ``upstreams`` (a graceful reload of the back) and record the new ``weights``."""
        shifted = self.router(state.name).shift(record=self.live_router(state), upstreams=upstreams)
        return self.save(state, router={k: shifted[k] for k in ROUTER_KEYS}, weights=weights)

    def start_green(self, state: EndpointState, version: ModelVersion, *, instances: int) -> tuple[Variant, EndpointState]:
        """Add a variant of ``instances`` to the endpoint's supervisord (recorded first); wait for every /ping."""
        green = prepare_variant(
            programs=self.programs,
            version=version,
            base_dir=self.layout.variant_dir(state.name, variant_id(version.version)),
            instances=instances,
        )
        state = self.save(state, fleet=(*state.fleet, green))
        self.supervisor(state.name).update(self.programs_of(state))
        problem = self.wait_up(state.name, green)
        if problem:
            self.retire(state, green)
            raise JobFailedError(f"model version {version.version} failed its health check: {problem}")
        return green, state

    def wait_up(self, name: str, variant: Variant) -> str | None:
        """Wait until every instance answers /ping and supervisord counts it started; else why not."""
        problem = wait_healthy(variant, state_of=lambda program: self.state_of(name, program))
        if not problem:
            try:
                self.supervisor(name).wait_running(variant.program_names())
            except StateError as err:
                problem = str(err)
        return problem

    def retire(self, state: EndpointState, variant: Variant) -> EndpointState:
        """Stop a variant (its whole process group) and forget it; its weight must already be gone."""
        state = self.save(
            state,
            fleet=tuple(v for v in state.fleet if v.id != variant.id),
            weights={k: w for k, w in state.weights.items() if k != variant.id},
        )
        self.supervisor(state.name).update(self.programs_of(state))
        release(variant)
        return state

    def record_config(self, name: str, version: ModelVersion) -> str:
        config_name = f"{name}-v{version.version}-{stamp()}"
        config = {"name": config_name, "created_at": now_iso(), "variants": [{"name": self.variant_name, "version": version.version}]}
        self.store.put(CONFIG_KIND, config_name, config)
        return config_name

    # -- verbs -------------------------------------------------------------------------------

    def deploy(self, *, name: str, version: ModelVersion) -> Endpoint:
        with self.store.claim("endpoint", name, wait=CLAIM_WAIT_S):
            existing = self.load(name)
            if existing is not None and existing.status != "Failed":
                raise UserInputError(
                    f"endpoint {name!r} already exists and serves model version {existing.version} at {existing.url}; "
                    f"change its version with `invoke deploy --mode update --version {version.version}`, "
                    "or remove it with `invoke teardown`"
                )
            if existing is not None:
                self.stop_all(existing)
            state = self.save(
                EndpointState(name=name, status="Creating", created_at=now_iso(), config_name=self.record_config(name, version))
            )
            try:
                variant = prepare_variant(
                    programs=self.programs,
                    version=version,
                    base_dir=self.layout.variant_dir(name, variant_id(version.version)),
                    instances=self.instances,
                )
                port, back_port = procs.free_port(), procs.free_port()
                self.router(name).prepare(port=port, back_port=back_port, upstreams=variant.upstreams(percent=100))
                state = self.save(
                    state,
                    scaling=self.scaling,
                    fleet=(variant,),
                    weights={variant.id: 100},
                    router={"port": port, "back_port": back_port, "generation": 1},
                    url=f"http://127.0.0.1:{port}",
                )
                state = self.bring_up(state)
            except BaseException as err:
                failed = self.load(name) or state
                self.stop_all(failed)
                self.save(failed, status="Failed", failure_reason=str(err), fleet=(), router=None, supervisor=None)
                raise
            return self.public(self.save(state, status="InService", version=version.version, failure_reason=""))

    def bring_up(self, state: EndpointState) -> EndpointState:
        """Start the endpoint's supervisord with its router and fleet; return once all answer."""
        record = self.supervisor(state.name).start(self.programs_of(state))
        state = self.save(state, supervisor=record)  # recorded before the waits: teardown can always find it
        for variant in state.fleet:
            problem = wait_healthy(variant, state_of=lambda program: self.state_of(state.name, program))
            if problem:
                raise JobFailedError(f"model version {variant.version} failed its health check: {problem}")
        self.router(state.name).wait_ready(port=int((state.router or {})["port"]))
        self.supervisor(state.name).wait_running([p.name for p in self.programs_of(state)])
        return state

    def describe(self, *, name: str) -> Endpoint:
        state = self.load(name)
        if state is None:
            raise NotFoundError(f"endpoint {name!r} does not exist; create it with `invoke deploy --mode endpoint`")
        live = self.live(state)
        shown = dataclasses.replace(state, status=live.status, failure_reason=live.reason or state.failure_reason)
        scaling = ScalingStatus.read(self.layout.supervisor_dir(name)) if state.scaling else None
        running = {n for n, p in self.supervisor(name).states().items() if p.state == "RUNNING"} if live.running else set()
        variants = tuple(
            dataclasses.replace(
                record,
                current_instance_count=sum(1 for p in v.program_names() if p in running),
                desired_instance_count=scaling.desired if scaling and scaling.variant == v.id else v.count,
            )
            for v, record in zip(state.fleet, state.variants(self.variant_name), strict=True)
        )
        lines = live.lines + (scaling.lines() if scaling else ())
        return dataclasses.replace(self.public(shown), variants=variants, health=lines)

    def live(self, state: EndpointState) -> status.Live:
        return status.read(state, self.supervisor(state.name))

    def invoke(self, *, name: str, body: bytes, content_type: str, accept: str) -> Invocation:
        state = self.load(name)
        if state is None or not state.router:
            raise NotFoundError(f"endpoint {name!r} does not exist or is not serving; create it with `invoke deploy --mode endpoint`")
        if not self.supervisor(name).alive():
            raise StateError(self.live(state).reason)
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
        except OSError as err:
            raise StateError(
                f"endpoint {name!r} did not answer on {state.url} ({err}); {self.live(state).reason or 'see `invoke describe`'}"
            ) from err
        finally:
            conn.close()

    def names(self) -> list[str]:
        return sorted(str(r["name"]) for r in self.store.list(KIND))

    def teardown(self, *, name: str | None) -> list[str]:
        states = [s for s in [self.load(name)] if s is not None] if name else [EndpointState.from_dict(r) for r in self.store.list(KIND)]
        if name and not states:
            stray = procs.stop_under(self.layout.endpoint_dir(name))  # a run killed before its first write
            return [f"endpoint {name!r} does not exist; nothing to tear down"] + (
                [f"stopped {len(stray)} unrecorded process(es) of endpoint {name}"] if stray else []
            )
        lines: list[str] = []
        for state in states:
            with self.store.claim("endpoint", state.name, wait=CLAIM_WAIT_S):
                lines += self.stop_all(state)
                self.store.delete(KIND, state.name)
                lines.append(f"deleted endpoint {state.name}")
        if name is None:
            stray = procs.stop_under(self.layout.state / "endpoints")
            lines += [f"stopped {len(stray)} unrecorded endpoint process(es)"] if stray else []
        return lines

    def stop_all(self, state: EndpointState) -> list[str]:
        """Stop the endpoint's supervisord and every process group it ran, orphans included."""
        lines = []
        sv = self.supervisor(state.name)
        if state.supervisor:
            running = procs.is_ours(state.supervisor)
            sv.shutdown(dict(state.supervisor))
            lines.append(f"{'stopped' if running else 'already gone:'} supervisor of {state.name} (router {state.url})")
        if state.router and "argv" in state.router:  # a record from before supervision: nginx run directly
            Router.stop(state.router)
        folder = self.layout.endpoint_dir(state.name)
        orphans = [pid for f in sorted(sv.folder.glob(".*.pgid")) for pid in pgrun.kill_previous(f, str(folder))]
        if orphans:
            lines.append(f"killed {len(orphans)} orphaned process(es) of dead masters: pids {', '.join(map(str, orphans))}")
        for variant in state.fleet:
            release(variant)
            lines.append(f"stopped variant {variant.id} (model version {variant.version})")
        # What a killed run started but never recorded works under the endpoint's folder too.
        stray = procs.stop_under(folder)
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of endpoint {state.name}: pids {', '.join(map(str, stray))}")
        return lines
