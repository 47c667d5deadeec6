"""Bringing a local endpoint back: after a reboot (:func:`restore`) and after a killed run (:func:`converge`).

A restore starts the recorded endpoint's supervisord again with the same version, weights and URL;
a port another program took since is named, and moved only when the user asks. Converging rolls an
update that a killed run left half done back to the settled variant.
"""

from __future__ import annotations

from ml.backends.base import LogSink
from ml.backends.local import procs
from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.endpoints import CLAIM_WAIT_S, Endpoints
from ml.backends.local.supervise import ports
from ml.errors import StateError


def restore(endpoints: Endpoints, *, name: str, new_url: bool = False) -> tuple[EndpointState, list[str]]:
    """Bring a recorded endpoint whose processes are gone back: same version, weights and URL."""
    with endpoints.store.claim("endpoint", name, wait=CLAIM_WAIT_S):
        state = endpoints.require(name, verb="restore")
        if endpoints.supervisor(name).alive():
            return state, [f"endpoint {name!r} is running; nothing to restore"]
        if not state.router or not state.fleet:
            raise StateError(f"endpoint {name!r} has no recorded router or variant to restore; run `invoke teardown`, then deploy again")
        endpoints.stop_all(state)  # whatever survived (orphans holding ports) goes first
        lines = []
        port = int(state.router["port"])
        holder = ports.holder(port)
        if holder:
            if not new_url:
                raise StateError(
                    f"cannot restore endpoint {name!r} on {state.url}: port {port} is now taken by {holder}; stop that program, "
                    "or run `invoke restore --new-url` to restore it on a new URL"
                )
            port = procs.free_port()
            lines.append(f"port {int(state.router['port'])} is taken by {holder}; the endpoint moves to http://127.0.0.1:{port}")
        serving = tuple(ports.moved(v) for v in state.fleet if state.weights.get(v.id, 0) > 0)
        weights = {v.id: state.weights[v.id] for v in serving}
        # The back's port is internal: the recorded one if free, else any.
        back_port = int(state.router.get("back_port") or 0)
        back_port = back_port if back_port and ports.free(back_port) else procs.free_port()
        endpoints.router(name).prepare(
            port=port, back_port=back_port, upstreams=[u for v in serving for u in v.upstreams(percent=weights[v.id])]
        )
        state = endpoints.save(
            state,
            status="Creating",
            fleet=serving,
            weights=weights,
            router={"port": port, "back_port": back_port, "generation": 1},
            url=f"http://127.0.0.1:{port}",
        )
        try:
            state = endpoints.bring_up(state)
        except BaseException as err:
            endpoints.stop_all(state)
            endpoints.save(state, status="Failed", failure_reason=f"restore failed: {err}", supervisor=None)
            raise
        state = endpoints.save(state, status="InService", failure_reason="")
        return state, [*lines, f"restored endpoint {name!r}: model version {state.version} on {state.url}"]


def converge(endpoints: Endpoints, state: EndpointState, *, say: LogSink | None = None) -> EndpointState:
    """After a killed run: roll an interrupted update back to the settled variant. Call claimed.

    A run killed mid-update leaves the record Failed (the store's recovery) with blue and
    green both in the fleet. The settled variant (the one serving ``version``, else the
    heaviest running one) gets all traffic; every other variant is removed from the
    supervisor. Without a running supervisor nothing can be rolled back: the record stays
    (``invoke restore`` or deploy brings it back).
    """
    if state.status != "Failed" and len(state.fleet) <= 1:
        return state
    sv = endpoints.supervisor(state.name)
    if not sv.alive() or not state.router:
        return state
    running = {n for n, p in sv.states().items() if p.state == "RUNNING"}
    live = [v for v in state.fleet if v.id in running]
    settled = [v for v in live if v.version == state.version] or sorted(live, key=lambda v: -state.weights.get(v.id, 0))
    if not settled:
        return state
    keep = settled[0]
    state = endpoints.shift(state, upstreams=keep.upstreams(percent=100), weights={keep.id: 100})
    others = [v for v in state.fleet if v.id != keep.id]
    for variant in others:
        state = endpoints.retire(state, variant)
    why = f"rolled back to version {keep.version} after an interrupted run ({state.failure_reason or 'no reason recorded'})"
    if say is not None:
        say(f"endpoint {state.name!r}: {why}; stopped {len(others)} variant(s)")
    return endpoints.save(state, status="InService", version=keep.version, failure_reason=why)


def settle(endpoints: Endpoints, name: str, *, say: LogSink | None = None) -> EndpointState | None:
    """The endpoint's record after :meth:`converge`, under the endpoint's claim; None if absent."""
    with endpoints.store.claim("endpoint", name, wait=CLAIM_WAIT_S):
        state = endpoints.load(name)
        return None if state is None else converge(endpoints, state, say=say)
