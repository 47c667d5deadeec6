"""Change the serving variant's instance count without dropping a request.

Scale-out: the new instances are recorded, started by supervisord and must answer ``/ping``
before the router's next generation sends them traffic. Scale-in: the router stops sending to the
instances first, in-flight requests drain, then supervisord stops them (serve finishes what it
has on SIGTERM). Both run under the endpoint's claim, so they never interleave with an update,
a rollback or a teardown; while one of those holds it, the autoscaler waits (as AWS asks that
scaling be suspended during an endpoint update). Neither touches the router's processes: only
its weights change, by a graceful reload.
"""

from __future__ import annotations

import dataclasses
import time

from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.fleet import release_instances
from ml.backends.local.records import Variant

# nginx's old workers finish in-flight requests after a reload before an instance is stopped.
DRAIN_S = 0.3


def serving_variant(state: EndpointState) -> Variant | None:
    """The one variant with all the traffic; None while traffic is split (an update is under way)."""
    serving = [v for v in state.fleet if state.weights.get(v.id, 0) > 0]
    return serving[0] if len(serving) == 1 else None


def rescale(endpoints: Endpoints, *, name: str, count: int) -> str:
    """Give the serving variant ``count`` instances; what was done, or why nothing was.

    Raises :class:`StateError` at once when another run holds the endpoint (the caller retries).
    """
    with endpoints.claim(name, doing=f"the endpoint's autoscaler: scaling it to {count} instance(s)", wait=0.0):
        state = endpoints.require(name, verb="scale")
        variant = serving_variant(state)
        if state.status != "InService" or variant is None:
            return f"not scaling: endpoint {name!r} is {state.status} with {len(state.fleet)} variant(s)"
        if count == variant.count:
            return ""
        target = endpoints.more_instances(variant, count=count)
        if count > variant.count:
            return _grow(endpoints, state, variant, target)
        return _shrink(endpoints, state, variant, target)


def _replace(endpoints: Endpoints, state: EndpointState, variant: Variant) -> EndpointState:
    state = endpoints.save(state, fleet=tuple(variant if v.id == variant.id else v for v in state.fleet))
    endpoints.apply(state)
    return state


def _grow(endpoints: Endpoints, state: EndpointState, before: Variant, target: Variant) -> str:
    state = _replace(endpoints, state, target)  # recorded before it starts: teardown always finds it
    problem = endpoints.wait_up(state, target)
    if problem:
        _replace(endpoints, state, before)
        release_instances(target.instances[before.count :])
        return f"scale-out of {target.id} to {target.count} failed, kept {before.count}: {problem}"
    endpoints.shift(state, dict(state.weights))
    return f"scaled {target.id} out from {before.count} to {target.count} instance(s)"


def _shrink(endpoints: Endpoints, state: EndpointState, before: Variant, target: Variant) -> str:
    fewer = dataclasses.replace(state, fleet=tuple(target if v.id == target.id else v for v in state.fleet))
    state = endpoints.shift(fewer, dict(state.weights))  # routed away from the removed instances first
    time.sleep(DRAIN_S)
    endpoints.apply(state)  # supervisord stops the removed instances gracefully
    release_instances(before.instances[target.count :])
    return f"scaled {target.id} in from {before.count} to {target.count} instance(s)"
