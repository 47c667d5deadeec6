"""Target tracking on invocations per instance, decided the way Application Auto Scaling does it.

SageMaker's policy tracks ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per
minute) at ``target``: the desired count is ``ceil(current × observed / target)``, kept between the
minimum and maximum. Scale-out waits ``scale_out_cooldown_s`` after the last scale-out; scale-in
waits ``scale_in_cooldown_s`` after any scaling activity, so a fleet that just grew does not shrink
on the next quiet second. Locally the metric is measured over ``window_s`` seconds of the router's
access log instead of CloudWatch's one-minute periods (what happens when is the same, only faster).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ml.backends.local.records import ScalingPolicy

__all__ = ["Cooldowns", "Decision", "ScalingPolicy", "after_activity", "clamp", "decide"]


@dataclass(frozen=True, kw_only=True)
class Decision:
    desired: int  # what the policy wants now (clamped)
    apply: int  # what to scale to now: ``desired``, or the current count while a cooldown holds it
    per_instance_per_minute: float
    reason: str


@dataclass(frozen=True, kw_only=True)
class Cooldowns:
    """When the autoscaler last scaled out, and last scaled at all (epoch seconds)."""

    last_scale_out: float
    last_activity: float


def clamp(policy: ScalingPolicy, count: int) -> int:
    return max(policy.min_instances, min(policy.max_instances, count))


def after_activity(cooldowns: Cooldowns, *, now: float, scaled_out: bool) -> Cooldowns:
    """The cooldowns after a scaling activity at ``now``: any activity restarts scale-in's wait."""
    return Cooldowns(last_scale_out=now if scaled_out else cooldowns.last_scale_out, last_activity=now)


def decide(policy: ScalingPolicy, *, current: int, invocations: int, now: float, last_scale_out: float, last_activity: float) -> Decision:
    """What target tracking does with ``invocations`` seen over the last window by ``current`` instances."""
    rate = invocations * 60.0 / policy.window_s / max(current, 1)
    wanted = clamp(policy, math.ceil(current * rate / policy.target_per_minute)) if invocations else policy.min_instances
    metric = f"{rate:.0f} invocations/instance/min (target {policy.target_per_minute})"
    if wanted > current:
        waited = now - last_scale_out
        if waited < policy.scale_out_cooldown_s:
            return Decision(desired=wanted, apply=current, per_instance_per_minute=rate, reason=f"{metric}; scale-out cooldown")
        return Decision(desired=wanted, apply=wanted, per_instance_per_minute=rate, reason=f"{metric}; scaling out")
    if wanted < current:
        waited = now - last_activity
        if waited < policy.scale_in_cooldown_s:
            return Decision(desired=wanted, apply=current, per_instance_per_minute=rate, reason=f"{metric}; scale-in cooldown")
        return Decision(desired=wanted, apply=wanted, per_instance_per_minute=rate, reason=f"{metric}; scaling in")
    return Decision(desired=current, apply=current, per_instance_per_minute=rate, reason=f"{metric}; steady")
