"""Target tracking's decision at its edges: exact cooldown boundaries, the metric, the bounds, the policy's record."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.backends.local.autoscale.policy import ScalingPolicy, decide
from ml.backends.local.endpoint_state import scaling_for_local
from ml.config import load_config
from ml.errors import UserInputError

REPO = Path(__file__).resolve().parents[4]
POLICY = ScalingPolicy(min_instances=2, max_instances=5, target_per_minute=60, window_s=10, scale_out_cooldown_s=5, scale_in_cooldown_s=20)
LONG_AGO = -1000.0


def _decide(
    current: int, invocations: int, *, now: float = 0.0, last_scale_out: float = LONG_AGO, last_activity: float = LONG_AGO
) -> tuple[int, int, str]:
    made = decide(POLICY, current=current, invocations=invocations, now=now, last_scale_out=last_scale_out, last_activity=last_activity)
    return made.desired, made.apply, made.reason


def test_the_metric_is_invocations_per_instance_per_minute_over_the_window() -> None:
    # 30 invocations in 10 s on 3 instances: 180/min in all, 60 per instance = the target.
    made = decide(POLICY, current=3, invocations=30, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO)
    assert made.per_instance_per_minute == 60.0
    assert (made.desired, made.apply) == (3, 3)
    assert made.reason == "60 invocations/instance/min (target 60); steady"
    # No instance running yet: the rate is per one instance, not a division by zero.
    assert decide(POLICY, current=0, invocations=10, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO).per_instance_per_minute == 60.0


def test_desired_is_the_ceiling_of_the_tracked_count_within_the_bounds() -> None:
    assert _decide(2, 21)[:2] == (3, 3)  # 63/min per instance: ceil(2 x 1.05) = 3, not 2
    assert _decide(3, 1000)[:2] == (5, 5)  # far above: the maximum
    assert _decide(4, 1) == (2, 2, "2 invocations/instance/min (target 60); scaling in")  # little traffic: never below the minimum
    assert _decide(3, 0) == (2, 2, "0 invocations/instance/min (target 60); scaling in")  # none at all: the minimum


def test_scale_out_waits_exactly_its_cooldown_after_the_last_scale_out() -> None:
    assert _decide(2, 100, now=4.99, last_scale_out=0) == (5, 2, "300 invocations/instance/min (target 60); scale-out cooldown")
    assert _decide(2, 100, now=5.0, last_scale_out=0) == (5, 5, "300 invocations/instance/min (target 60); scaling out")
    # Only the last scale-out counts for scaling out: a recent scale-in does not hold it.
    assert _decide(2, 100, now=5.0, last_scale_out=0, last_activity=4.9)[:2] == (5, 5)


def test_scale_in_waits_exactly_its_cooldown_after_any_activity() -> None:
    assert _decide(4, 0, now=19.99, last_scale_out=LONG_AGO, last_activity=0) == (
        2,
        4,
        "0 invocations/instance/min (target 60); scale-in cooldown",
    )
    assert _decide(4, 0, now=20.0, last_scale_out=LONG_AGO, last_activity=0)[:2] == (2, 2)
    assert _decide(4, 0, now=20.0, last_scale_out=15, last_activity=0)[:2] == (2, 2)  # the last activity is what counts


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"min_instances": 0}, r"^autoscaling needs 1 <= min instances <= max instances, not 0 and 5$"),
        ({"min_instances": 6}, r"^autoscaling needs 1 <= min instances <= max instances, not 6 and 5$"),
        ({"target_per_minute": 0}, r"^autoscaling needs a positive target and window, not 0 and 10$"),
        ({"window_s": 0}, r"^autoscaling needs a positive target and window, not 60 and 0$"),
    ],
)
def test_a_policy_out_of_bounds_is_refused_naming_the_values(bounds: dict[str, float], message: str) -> None:
    fields = POLICY.to_dict() | bounds
    with pytest.raises(UserInputError, match=message):
        ScalingPolicy(**fields)


def test_min_equal_to_max_and_a_target_of_one_are_allowed() -> None:
    ScalingPolicy(**(POLICY.to_dict() | {"min_instances": 5, "target_per_minute": 1, "window_s": 0.5}))
    ScalingPolicy(**(POLICY.to_dict() | {"min_instances": 1}))


def test_the_policy_round_trips_through_its_record_and_comes_from_the_config() -> None:
    record = POLICY.to_dict()
    assert record == {
        "min_instances": 2,
        "max_instances": 5,
        "target_per_minute": 60,
        "window_s": 10,
        "scale_out_cooldown_s": 5,
        "scale_in_cooldown_s": 20,
    }
    assert ScalingPolicy.from_dict({k: str(v) for k, v in record.items()}) == POLICY  # stored JSON may hold text
    overrides = {
        "autoscaling_min_instances": 2,
        "autoscaling_max_instances": 6,
        "autoscaling_target_invocations": 90,
        "local_autoscaling_window_seconds": 3,
        "local_autoscaling_cooldown_seconds": 7,
        "hosting_instance_count": 3,
    }
    local = scaling_for_local(load_config(REPO / "cdktf.json", overrides=overrides))
    assert local == ScalingPolicy(
        min_instances=2, max_instances=6, target_per_minute=90, window_s=3, scale_out_cooldown_s=7, scale_in_cooldown_s=7
    )
    assert scaling_for_local(load_config(REPO / "cdktf.json", overrides={"autoscaling_enabled": False})) is None
