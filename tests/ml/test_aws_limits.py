"""SageMaker's limits on combinations of values, exactly: each rule at its edge, with the message it gives."""

from __future__ import annotations

import pytest

from ml.aws_limits import (
    MAX_SHIFT_PERCENT,
    MAX_TRANSFORM_MB,
    MIN_LINEAR_PERCENT,
    scaling_problem,
    traffic_problem,
    traffic_step_range,
    transform_problem,
)


def test_the_step_range_is_one_whole_instance_up_to_half_the_fleet() -> None:
    assert (MAX_SHIFT_PERCENT, MIN_LINEAR_PERCENT, MAX_TRANSFORM_MB) == (50, 10, 100)
    assert traffic_step_range("ALL_AT_ONCE", 1) == (1, 100)  # no step: any value is unused
    assert traffic_step_range("CANARY", 2) == (50, 50)
    assert traffic_step_range("CANARY", 3) == (34, 50)  # ceil(100 / 3): a third of the fleet rounds up
    assert traffic_step_range("CANARY", 100) == (1, 50)
    assert traffic_step_range("LINEAR", 20) == (10, 50)  # one instance is 5%, but a linear step is at least 10%
    assert traffic_step_range("LINEAR", 4) == (25, 50)
    assert traffic_step_range("CANARY", 1) is None and traffic_step_range("LINEAR", 1) is None


def test_a_step_that_sagemaker_would_refuse_names_the_key_and_the_range() -> None:
    assert traffic_problem("CANARY", 34, 3) is None and traffic_problem("CANARY", 50, 3) is None
    assert traffic_problem("CANARY", 33, 3) == (
        "bluegreen_step_percent",
        "is 33; with CANARY on hosting_instance_count=3 it must be 34-50 "
        "(a canary is at most 50% of the fleet, and at least one whole instance)",
    )
    assert traffic_problem("LINEAR", 51, 4) == (
        "bluegreen_step_percent",
        "is 51; with LINEAR on hosting_instance_count=4 it must be 25-50 "
        "(a linear step is 10-50% of the fleet, and at least one whole instance)",
    )
    assert traffic_problem("CANARY", 25, 1) == (
        "bluegreen_traffic",
        "CANARY needs at least 2 instances (SageMaker shifts whole instances, at most 50% of the fleet per step), "
        "but hosting_instance_count is 1; use ALL_AT_ONCE or raise hosting_instance_count",
    )
    assert traffic_problem("ALL_AT_ONCE", 100, 1) is None


@pytest.mark.parametrize(
    ("low", "high", "count", "expected"),
    [
        (2, 4, 2, None),
        (2, 4, 4, None),
        (3, 3, 3, None),
        (5, 4, 4, ("autoscaling_min_instances", "is 5, above autoscaling_max_instances (4); lower it")),
        (
            2,
            4,
            5,
            (
                "hosting_instance_count",
                "is 5; with autoscaling on it must lie between autoscaling_min_instances (2) and autoscaling_max_instances (4)",
            ),
        ),
        (
            2,
            4,
            1,
            (
                "hosting_instance_count",
                "is 1; with autoscaling on it must lie between autoscaling_min_instances (2) and autoscaling_max_instances (4)",
            ),
        ),
    ],
)
def test_scaling_bounds(low: int, high: int, count: int, expected: tuple[str, str] | None) -> None:
    assert scaling_problem(low, high, count) == expected


def test_transform_payload_in_flight_is_at_most_100_mb() -> None:
    assert transform_problem(25, 4) is None and transform_problem(100, 1) is None
    assert transform_problem(17, 6) == (
        "transform_max_concurrent",
        "transform_max_concurrent × transform_max_payload_mb is 17 × 6 = 102 MB; "
        "SageMaker allows at most 100 MB in flight; lower one of them",
    )
