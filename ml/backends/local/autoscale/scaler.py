"""The endpoint's autoscaler: a supervised process that measures load at the router and rescales.

Each tick it reads the router's new access-log lines, counts the serving variant's invocations
over the policy's window, asks :func:`~ml.backends.local.autoscale.policy.decide` for the count,
and applies it with :func:`~ml.backends.local.autoscale.apply.rescale`. What it saw and did is
written to ``scaling.json`` beside the endpoint's supervisor (atomically), which ``describe`` reads.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from ml.backends.local.alarms import AccessLog, Attempt
from ml.backends.local.autoscale.apply import rescale, serving_variant
from ml.backends.local.autoscale.policy import Cooldowns, after_activity, decide
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.records import ScalingStatus
from ml.errors import StateError

KEEP_ACTIVITIES = 20


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Autoscaler:
    def __init__(self, *, endpoints: Endpoints, name: str, clock: Callable[[], float] = time.time) -> None:
        self.endpoints = endpoints
        self.name = name
        self.clock = clock
        self.log = AccessLog(log=endpoints.access_log(endpoints.require(name, verb="scale")))
        self.seen: deque[Attempt] = deque()
        started = clock()
        # As after a scaling activity: no scale-in on the thin data of the first seconds.
        self.cooldowns = Cooldowns(last_scale_out=started, last_activity=started)
        previous = endpoints.scaling_status(name)  # this endpoint's: a new endpoint of the name starts afresh
        self.activities: tuple[str, ...] = previous.activities if previous else ()

    def tick(self) -> bool:
        """One measurement and decision; False once the endpoint is gone (the loop ends)."""
        state = self.endpoints.load(self.name)
        if state is None:
            return False
        self.seen.extend(self.log.read())
        now = self.clock()
        policy = state.settings.scaling
        while self.seen and self.seen[0].at < now - (policy.window_s if policy else 0):
            self.seen.popleft()
        variant = serving_variant(state)
        if policy is None or variant is None:
            return True  # no policy, or traffic split by an update: nothing to track now
        addrs = variant.addrs()
        decision = decide(
            policy,
            current=variant.count,
            invocations=sum(1 for a in self.seen if a.addr in addrs),
            now=now,
            last_scale_out=self.cooldowns.last_scale_out,
            last_activity=self.cooldowns.last_activity,
        )
        reason, count = decision.reason, variant.count
        if decision.apply != variant.count:
            # Said before it is done (a scale-out takes seconds): describe shows desired > current meanwhile.
            self._write(variant.id, variant.count, decision.desired, decision.per_instance_per_minute, reason)
            try:
                done = rescale(self.endpoints, name=self.name, count=decision.apply)
            except StateError as err:
                reason = f"{reason}; waiting: {err}"
            else:
                if done:
                    self.activities = (*self.activities, f"{now_iso()} {done} ({decision.reason})")[-KEEP_ACTIVITIES:]
                    self.cooldowns = after_activity(self.cooldowns, now=now, scaled_out=decision.apply > variant.count)
                    after = serving_variant(self.endpoints.load(self.name) or state)
                    count = after.count if after else count
        self._write(variant.id, count, decision.desired, decision.per_instance_per_minute, reason)
        return True

    def _write(self, variant_id: str, current: int, desired: int, rate: float, reason: str) -> None:
        scaling = ScalingStatus(
            variant=variant_id,
            current=current,
            desired=desired,
            per_instance_per_minute=rate,
            reason=reason,
            time=now_iso(),
            activities=self.activities,
        )
        self.endpoints.record_scaling(self.name, scaling)
