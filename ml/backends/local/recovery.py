"""Bringing a local endpoint back: after a reboot (:func:`restore`) and after a killed run (:func:`converge`).

A restore starts the recorded endpoint's supervisord again with the same version, weights and URL;
a port another program took since is named, and moved only when the user asks. Converging rolls an
update that a killed run left half done back to the settled variant.
"""

from __future__ import annotations

import dataclasses

from ml.backends.local import procs
from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.records import RouterRecord
from ml.backends.local.supervise import ports
from ml.errors import StateError


def restore(endpoints: Endpoints, *, name: str, new_url: bool = False) -> tuple[EndpointState, list[str]]:
    """Bring a recorded endpoint whose processes are gone back: same version, weights and URL."""
    with endpoints.claim(name, doing="restoring it"):
        state = endpoints.require(name, verb="restore")
        if endpoints.alive(name):
            return state, [f"endpoint {name!r} is running; nothing to restore"]
        if state.router is None or not state.fleet:
            raise StateError(f"endpoint {name!r} has no recorded router or variant to restore; run `invoke teardown`, then deploy again")
        endpoints.stop_all(state)  # whatever survived (orphans holding ports) goes first
        router, lines = _ports(state.router, name=name, url=state.url, new_url=new_url)
        serving = tuple(ports.moved(v) for v in state.fleet if state.weights.get(v.id, 0) > 0)
        weights = {v.id: state.weights[v.id] for v in serving}
        state = endpoints.save(
            state, status="Creating", fleet=serving, weights=weights, router=router, url=f"http://127.0.0.1:{router.port}"
        )
        endpoints.prepare_router(state)
        try:
            state = endpoints.bring_up(state)
        except BaseException as err:
            endpoints.stop_all(state)
            endpoints.save(state, status="Failed", failure_reason=f"restore failed: {err}", supervisor=None)
            raise
        state = endpoints.settle(state, kind="restored", version=state.version, config_name=state.config_name, detail=f"on {state.url}")
        return state, [*lines, f"restored endpoint {name!r}: model version {state.version} on {state.url}"]


def _ports(router: RouterRecord, *, name: str, url: str, new_url: bool) -> tuple[RouterRecord, list[str]]:
    """The router's ports after a reboot: its URL's port unless another program took it (then only
    with ``new_url``); the back's port is internal, the recorded one if free, else any."""
    lines = []
    port = router.port
    holder = ports.holder(port)
    if holder:
        if not new_url:
            raise StateError(
                f"cannot restore endpoint {name!r} on {url}: port {port} is now taken by {holder}; stop that program, "
                "or run `invoke restore --new-url` to restore it on a new URL"
            )
        port = procs.free_port()
        lines.append(f"port {router.port} is taken by {holder}; the endpoint moves to http://127.0.0.1:{port}")
    back_port = router.back_port if ports.free(router.back_port) else procs.free_port()
    return dataclasses.replace(router, port=port, back_port=back_port, generation=1), lines


def converge(endpoints: Endpoints, state: EndpointState) -> EndpointState:
    """After a killed run: roll an interrupted update back to the settled variant. Call claimed.

    A run killed mid-update leaves the record Failed (the store's recovery) with blue and
    green both in the fleet. The settled variant (the one serving ``version``, else the
    heaviest running one) gets all traffic; every other variant is removed from the
    supervisor. Without a running supervisor nothing can be rolled back: the record stays
    (``invoke restore`` or deploy brings it back).
    """
    if (state.status != "Failed" and len(state.fleet) <= 1) or not state.history:
        return state  # settled; or never served (a killed creation): deploy creates it afresh
    if not endpoints.alive(state.name) or state.router is None:
        return state
    running = endpoints.running(state)
    live = [v for v in state.fleet if v.id in running]
    settled = [v for v in live if v.version == state.version] or sorted(live, key=lambda v: -state.weights.get(v.id, 0))
    if not settled:
        return state
    keep = settled[0]
    state = endpoints.shift(state, {keep.id: 100})
    others = [v for v in state.fleet if v.id != keep.id]
    for variant in others:
        state = endpoints.retire(state, variant)
    why = f"rolled back to version {keep.version} after an interrupted run ({state.failure_reason or 'no reason recorded'})"
    endpoints.say(f"endpoint {state.name!r}: {why}; stopped {len(others)} variant(s)")
    config_name = keep.config_name or state.config_name
    return endpoints.settle(state, kind="recovered", version=keep.version, config_name=config_name, detail=why, failure_reason=why)


def current(endpoints: Endpoints, name: str) -> EndpointState | None:
    """The endpoint's record after :func:`converge`, under the endpoint's claim; None if absent."""
    with endpoints.claim(name, doing="checking it after an interrupted run"):
        state = endpoints.load(name)
        return None if state is None else converge(endpoints, state)
