"""Blue/green updates with SageMaker deployment-guardrail semantics, on the local router.

Order of events, as SageMaker does it: start green and wait for its health check (no traffic
yet); shift traffic step by step (ALL_AT_ONCE, CANARY, LINEAR), watching the alarms for
``wait_seconds`` after each step; after the last step, bake for ``baking_seconds`` with blue kept
as nginx's backup; only then retire blue. An alarm, a green that dies, or an interrupt at any
point sends all traffic back to blue and stops green: a rollback, which clients never notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ml.backends.base import BlueGreenPolicy, LogSink
from ml.backends.local import recovery
from ml.backends.local.alarms import AlarmWatch
from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.endpoints import CLAIM_WAIT_S, Endpoints
from ml.backends.local.fleet import Variant
from ml.backends.local.router import Upstream
from ml.backends.records import Endpoint, ModelVersion
from ml.backends.rollout import Rollout
from ml.errors import DeployRolledBackError, JobFailedError, StateError, UserInputError

# nginx's old workers finish their in-flight requests after a reload; give them this long
# before the retired fleet is stopped (gunicorn then still drains its own requests on SIGTERM).
DRAIN_S = 0.3
POLL_S = 0.1


def _upstreams(blue: Variant, green: Variant, percent: int) -> list[Upstream]:
    if percent >= 100:
        # Blue stays as a backup while baking: a green failure is retried on blue, never seen by clients.
        return [*green.upstreams(percent=100), *blue.upstreams(percent=0, backup=True)]
    return [*blue.upstreams(percent=100 - percent), *green.upstreams(percent=percent)]


def serving_variant(endpoints: Endpoints, state: EndpointState) -> Variant:
    sv = endpoints.supervisor(state.name)
    running = {n for n, p in sv.states().items() if p.state == "RUNNING"} if sv.alive() else set()
    live = [v for v in state.fleet if state.weights.get(v.id, 0) > 0 and v.id in running]
    if not live:
        raise StateError(f"endpoint {state.name!r} has no running variant: {endpoints.live(state).reason or 'see `invoke describe`'}")
    return max(live, key=lambda v: state.weights.get(v.id, 0))


def update(
    endpoints: Endpoints,
    *,
    name: str,
    version: ModelVersion,
    policy: BlueGreenPolicy,
    history: Callable[[list[int], int], list[int]],
    on_event: LogSink | None = None,
) -> Endpoint:
    """Move ``name`` to ``version``; ``history(previous_versions, blue_version)`` gives the new history."""
    say = on_event or (lambda _line: None)
    with endpoints.store.claim("endpoint", name, wait=CLAIM_WAIT_S):
        state = recovery.converge(endpoints, endpoints.require(name, verb="update"), say=say)
        if state.status not in ("InService", "Failed") or not state.router:
            raise UserInputError(f"endpoint {name!r} is {state.status}; it can be updated once it is InService")
        blue = serving_variant(endpoints, state)
        if blue.version == version.version and state.status == "InService":
            # The contract: updating to the version already served is a no-op that says so.
            say(f"endpoint {name!r} already serves model version {version.version}; nothing to update")
            return endpoints.public(state)
        rollout = Rollout(sink=on_event, endpoint=name, version=version.version, blue_version=blue.version)
        rollout.plan(policy)
        state = endpoints.save(state, status="Updating", failure_reason="", config_name=endpoints.record_config(name, version))
        rollout.status(state.status)
        try:
            # Green starts as big as blue is now (autoscaling may have grown it): capacity is kept.
            rollout.green_starting(f"{blue.count} instance(s)")
            green, state = endpoints.start_green(state, version, instances=blue.count)
        except JobFailedError as err:
            endpoints.save(endpoints.load(name) or state, status="InService", fleet=(blue,), failure_reason=str(err))
            rollout.rolled_back()
            raise DeployRolledBackError(f"update of {name!r} to version {version.version} stopped before any traffic moved: {err}") from err
        rollout.green_healthy(f"on ports {', '.join(str(i.port) for i in green.instances)}")
        watch = AlarmWatch(
            log=endpoints.router(name).access_log,
            addrs=green.addrs(),
            error_rate_percent=policy.error_rate_percent,
            p99_latency_ms=policy.p99_latency_ms,
        )
        try:
            for percent in policy.steps():
                state = endpoints.shift(
                    state, upstreams=_upstreams(blue, green, percent), weights={blue.id: 100 - percent, green.id: percent}
                )
                dwell = policy.baking_seconds if percent >= 100 else policy.wait_seconds
                rollout.traffic(percent, dwell_s=dwell)
                alarm = _watch(watch if policy.auto_rollback else None, green, dwell, lambda: endpoints.down(name, green))
                rollout.alarm_check(breach=alarm, measured=watch.summary())
                if alarm:
                    _roll_back(endpoints, state, rollout, blue=blue, green=green, why=alarm)
                    raise DeployRolledBackError(
                        f"update of {name!r} to version {version.version} was rolled back: {alarm}; version {blue.version} still serves"
                    )
        except DeployRolledBackError:
            raise
        except BaseException as err:
            _roll_back(endpoints, state, rollout, blue=blue, green=green, why=f"interrupted: {err!r}")
            raise
        state = endpoints.shift(state, upstreams=green.upstreams(percent=100), weights={green.id: 100})
        time.sleep(DRAIN_S)
        state = endpoints.retire(state, blue)
        rollout.blue_retired()
        done = endpoints.save(
            state,
            status="InService",
            version=version.version,
            previous_versions=tuple(history(list(state.previous_versions), blue.version)),
        )
        rollout.status(done.status)
        return endpoints.public(done)


def _watch(watch: AlarmWatch | None, green: Variant, seconds: float, down: Callable[[], list[str]]) -> str | None:
    """Until ``seconds`` pass: the reason to roll back (green died, or an alarm when ``watch`` is given), or None."""
    deadline = time.monotonic() + seconds
    while True:
        gone = down()
        if gone:
            return (
                f"the new variant's process {', '.join(gone)} exited (supervisord restarts it, but an update does not bet on it); "
                f"see {green.folder}"
            )
        alarm = watch.check() if watch is not None else None
        if alarm or time.monotonic() >= deadline:
            return alarm
        time.sleep(POLL_S)


def _roll_back(endpoints: Endpoints, state: EndpointState, rollout: Rollout, *, blue: Variant, green: Variant, why: str) -> None:
    rollout.rolling_back(why)
    state = endpoints.save(state, status="RollingBack", failure_reason=why)
    rollout.status(state.status)
    state = endpoints.shift(state, upstreams=blue.upstreams(percent=100), weights={blue.id: 100})
    time.sleep(DRAIN_S)
    state = endpoints.retire(state, green)
    rollout.rolled_back()
    rollout.status(endpoints.save(state, status="InService", failure_reason=why).status)
