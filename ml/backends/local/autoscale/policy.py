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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml.config import ProjectConfig
from ml.errors import UserInputError


@dataclass(frozen=True, kw_only=True)
class ScalingPolicy:
    min_instances: int
    max_instances: int
    target_per_minute: int  # invocations per instance per minute
    window_s: float
    scale_out_cooldown_s: float
    scale_in_cooldown_s: float

    def __post_init__(self) -> None:
        if not 1 <= self.min_instances <= self.max_instances:
            raise UserInputError(
                f"autoscaling needs 1 <= min instances <= max instances, not {self.min_instances} and {self.max_instances}"
            )
        if self.target_per_minute < 1 or self.window_s <= 0:
            raise UserInputError(f"autoscaling needs a positive target and window, not {self.target_per_minute} and {self.window_s}")

    @classmethod
    def for_local(cls, config: ProjectConfig) -> ScalingPolicy | None:
        """The AWS policy's bounds and target with local mode's window and cooldown; None when off."""
        if not config.autoscaling_enabled:
            return None
        return cls(
            min_instances=config.autoscaling_min_instances,
            max_instances=config.autoscaling_max_instances,
            target_per_minute=config.autoscaling_target_invocations,
            window_s=config.local_autoscaling_window_seconds,
            scale_out_cooldown_s=config.local_autoscaling_cooldown_seconds,
            scale_in_cooldown_s=config.local_autoscaling_cooldown_seconds,
        )

    def clamp(self, count: int) -> int:
        return max(self.min_instances, min(self.max_instances, count))

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "target_per_minute": self.target_per_minute,
            "window_s": self.window_s,
            "scale_out_cooldown_s": self.scale_out_cooldown_s,
            "scale_in_cooldown_s": self.scale_in_cooldown_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingPolicy:
        return cls(
            min_instances=int(data["min_instances"]),
            max_instances=int(data["max_instances"]),
            target_per_minute=int(data["target_per_minute"]),
            window_s=float(data["window_s"]),
            scale_out_cooldown_s=float(data["scale_out_cooldown_s"]),
            scale_in_cooldown_s=float(data["scale_in_cooldown_s"]),
        )


@dataclass(frozen=True, kw_only=True)
class Decision:
    desired: int  # what the policy wants now (clamped)
    apply: int  # what to scale to now: ``desired``, or the current count while a cooldown holds it
    per_instance_per_minute: float
    reason: str


def decide(policy: ScalingPolicy, *, current: int, invocations: int, now: float, last_scale_out: float, last_activity: float) -> Decision:
    """What target tracking does with ``invocations`` seen over the last window by ``current`` instances."""
    rate = invocations * 60.0 / policy.window_s / max(current, 1)
    wanted = policy.clamp(math.ceil(current * rate / policy.target_per_minute)) if invocations else policy.min_instances
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
