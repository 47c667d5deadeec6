"""Blue/green updates with SageMaker deployment-guardrail semantics, on the local router.

Order of events, as SageMaker does it: start green and wait for its health check (no traffic
yet); shift traffic step by step (ALL_AT_ONCE, CANARY, LINEAR), watching the alarms for
``wait_seconds`` after each step; after the last step, bake for ``baking_seconds`` with blue kept
as nginx's backup; only then retire blue. An alarm, a green that dies, or an interrupt at any
point (Ctrl-C included) sends all traffic back to blue and stops green: a rollback, which clients
never notice. The endpoint's config and version change only when the update completes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from ml.aws_limits import traffic_problem
from ml.backends.base import BlueGreenPolicy, LogSink
from ml.backends.local import recovery
from ml.backends.local.alarms import AlarmWatch
from ml.backends.local.endpoint_state import EndpointState, EventKind
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.records import Variant
from ml.backends.records import Endpoint, ModelVersion
from ml.backends.rollout import Rollout
from ml.backends.rollout_journal import RolloutJournal, journal_path
from ml.errors import DeployRolledBackError, JobFailedError, StateError, UserInputError

# nginx's old workers finish their in-flight requests after a reload; give them this long
# before the retired fleet is stopped (serve then still drains its own requests on SIGTERM).
DRAIN_S = 0.3
POLL_S = 0.1


class _Alarm(Exception):
    """An alarm fired during a traffic step (turned into DeployRolledBackError once rolled back)."""


def step_problem(policy: BlueGreenPolicy, instances: int) -> str | None:
    """Why SageMaker would refuse ``policy`` on a fleet of ``instances``: steps move whole instances."""
    problem = traffic_problem(policy.traffic, policy.step_percent, instances)
    return None if problem is None else f"{problem[0]} {problem[1]}"


def update(
    endpoints: Endpoints,
    *,
    name: str,
    version: ModelVersion,
    policy: BlueGreenPolicy,
    kind: EventKind = "updated",
    on_event: LogSink | None = None,
) -> Endpoint:
    """Move ``name`` to ``version``; ``kind`` is the event its history records when done."""
    with endpoints.claim(name, doing=f"moving it to model version {version.version} ({kind})"):
        state = recovery.converge(endpoints, endpoints.require(name, verb="update"))
        blue = _blue(endpoints, state)
        if blue.version == version.version and state.status == "InService":
            # The contract: updating to the version already served is a no-op that says so.
            endpoints.say(f"endpoint {name!r} already serves model version {version.version}; nothing to update")
            return state.public()
        problem = step_problem(policy, blue.count)
        if problem:
            raise UserInputError(f"endpoint {name!r} runs {blue.count} instance(s), so it cannot be updated this way: {problem}")
        journal = RolloutJournal(journal_path(state_dir=endpoints.layout.state, backend="local", endpoint=name))
        rollout = Rollout(sink=on_event, endpoint=name, version=version.version, blue_version=blue.version, journal=journal)
        rollout.plan(policy)
        config_name = endpoints.record_config(name, version, state.settings)
        state = endpoints.save(state, status="Updating", failure_reason="")
        rollout.status(state.status)
        try:
            rollout.green_starting(f"{blue.count} instance(s)")  # as big as blue is now: capacity is kept
            green, state = endpoints.start_variant(state, version, instances=blue.count, config_name=config_name)
            rollout.green_healthy(f"on ports {', '.join(str(i.port) for i in green.instances)}")
            state = _shift(endpoints, state, policy, rollout, blue=blue, green=green)
        except BaseException as err:
            why = str(err) if isinstance(err, (JobFailedError, _Alarm)) else f"interrupted: {err!r}"
            _roll_back(endpoints, endpoints.load(name) or state, rollout, blue=blue, why=why)
            if isinstance(err, JobFailedError):
                raise DeployRolledBackError(
                    f"update of {name!r} to version {version.version} stopped before any traffic moved: {err}"
                ) from err
            if isinstance(err, _Alarm):
                raise DeployRolledBackError(
                    f"update of {name!r} to version {version.version} was rolled back: {err}; version {blue.version} still serves"
                ) from err
            raise
        state = endpoints.shift(state, {green.id: 100})
        time.sleep(DRAIN_S)
        state = endpoints.retire(state, blue)
        rollout.blue_retired()
        done = endpoints.settle(state, kind=kind, version=version.version, config_name=config_name)
        rollout.status(done.status)
        return done.public()


def _blue(endpoints: Endpoints, state: EndpointState) -> Variant:
    """The variant serving now (the heaviest running one): what an update starts from."""
    if state.status not in ("InService", "Failed") or state.router is None:
        raise UserInputError(f"endpoint {state.name!r} is {state.status}; it can be updated once it is InService")
    running = endpoints.running(state)
    live = [v for v in state.fleet if state.weights.get(v.id, 0) > 0 and v.id in running]
    if not live:
        raise StateError(f"endpoint {state.name!r} has no running variant: {endpoints.live(state).reason or 'see `invoke describe`'}")
    return max(live, key=lambda v: state.weights.get(v.id, 0))


def _shift(
    endpoints: Endpoints, state: EndpointState, policy: BlueGreenPolicy, rollout: Rollout, *, blue: Variant, green: Variant
) -> EndpointState:
    """Every traffic step of ``policy``, each watched by the alarms; raises _Alarm when one fires."""
    watch = AlarmWatch(
        log=endpoints.access_log(state),
        addrs=green.addrs(),
        error_rate_percent=policy.error_rate_percent,
        p99_latency_ms=policy.p99_latency_ms,
    )
    for percent in policy.steps():
        # At 100% blue stays as a backup while baking: a green failure is retried on blue, never seen by clients.
        weights = {green.id: 100, blue.id: 0} if percent >= 100 else {blue.id: 100 - percent, green.id: percent}
        state = endpoints.shift(state, weights, backup=blue if percent >= 100 else None)
        dwell = policy.baking_seconds if percent >= 100 else policy.wait_seconds
        rollout.traffic(percent, dwell_s=dwell)
        alarm = _watch(watch if policy.auto_rollback else None, green, dwell, functools.partial(endpoints.down, state, green))
        rollout.alarm_check(breach=alarm, measured=watch.summary())
        if alarm:
            raise _Alarm(alarm)
    return state


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


def _roll_back(endpoints: Endpoints, state: EndpointState, rollout: Rollout, *, blue: Variant, why: str) -> None:
    """All traffic back on blue, every other variant stopped; the endpoint's config and version unchanged."""
    others = [v for v in state.fleet if v.id != blue.id]
    if any(state.weights.get(v.id, 0) > 0 for v in others):
        rollout.rolling_back(why)
        state = endpoints.save(state, status="RollingBack", failure_reason=why)
        rollout.status(state.status)
        state = endpoints.shift(state, {blue.id: 100})
        time.sleep(DRAIN_S)
    for variant in others:
        state = endpoints.retire(state, variant)
    rollout.rolled_back()
    done = endpoints.settle(
        state, kind="update rolled back", version=blue.version, config_name=state.config_name, detail=why, failure_reason=why
    )
    rollout.status(done.status)
