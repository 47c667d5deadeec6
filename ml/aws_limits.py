"""Limits SageMaker enforces on combinations of configuration values.

Single values are checked where :mod:`ml.config` declares them; these rules join two keys, so
they live here, as plain functions, with the documentation they come from:

- ``TrafficRoutingConfig`` (SageMaker API reference): a ``CanarySize`` must be at most 50% of the
  variant's instance count, a ``LinearStepSize`` 10-50% of it. Traffic moves with whole instances
  of the green fleet, so a step must also cover at least one instance: one instance cannot be
  split, and with one instance only ``ALL_AT_ONCE`` exists.
- Application Auto Scaling: ``MinCapacity <= MaxCapacity``; the endpoint's starting count lies
  between them, and the blue/green step must still fit a fleet scaled in to its minimum.
- ``CreateTransformJob``: ``MaxConcurrentTransforms * MaxPayloadInMB`` cannot exceed 100 MB.
- Batch transform "partitions the Amazon S3 objects in the input by key and maps Amazon S3
  objects to instances" (SageMaker guide, "Batch transform for inference"): an instance with no
  object idles, so a split into fewer parts than instances leaves instances paid for and unused.
"""

from __future__ import annotations

import math

MAX_SHIFT_PERCENT = 50  # CANARY and LINEAR steps move at most half the fleet
MIN_LINEAR_PERCENT = 10
MAX_TRANSFORM_MB = 100
SPLIT_PARTS_PER_INSTANCE = 4  # transform_split_objects' default, per transform instance
MAX_SPLIT_OBJECTS = 10_000


def traffic_step_range(traffic: str, instance_count: int) -> tuple[int, int] | None:
    """The allowed step percent for ``traffic`` on ``instance_count`` instances; ``None`` if none is."""
    if traffic == "ALL_AT_ONCE":
        return (1, 100)  # no step: the value is unused
    one_instance = math.ceil(100 / instance_count)
    low = max(one_instance, MIN_LINEAR_PERCENT if traffic == "LINEAR" else 1)
    return (low, MAX_SHIFT_PERCENT) if low <= MAX_SHIFT_PERCENT else None


def traffic_problem(traffic: str, step_percent: int, instance_count: int) -> tuple[str, str] | None:
    """``(key, problem)`` when SageMaker would refuse this blue/green traffic setting, else ``None``."""
    allowed = traffic_step_range(traffic, instance_count)
    if allowed is None:
        return (
            "bluegreen_traffic",
            f"{traffic} needs at least 2 instances (SageMaker shifts whole instances, at most {MAX_SHIFT_PERCENT}% of the fleet "
            f"per step), but hosting_instance_count is {instance_count}; use ALL_AT_ONCE or raise hosting_instance_count",
        )
    low, high = allowed
    if not low <= step_percent <= high:
        rule = f"a canary is at most {MAX_SHIFT_PERCENT}%" if traffic == "CANARY" else f"a linear step is {MIN_LINEAR_PERCENT}-50%"
        return (
            "bluegreen_step_percent",
            f"is {step_percent}; with {traffic} on hosting_instance_count={instance_count} it must be {low}-{high} "
            f"({rule} of the fleet, and at least one whole instance)",
        )
    return None


def scaling_problem(min_instances: int, max_instances: int, instance_count: int) -> tuple[str, str] | None:
    """Application Auto Scaling needs MinCapacity <= MaxCapacity; the endpoint starts with
    ``hosting_instance_count``, which must lie between them or the first scaling step jumps."""
    if min_instances > max_instances:
        return ("autoscaling_min_instances", f"is {min_instances}, above autoscaling_max_instances ({max_instances}); lower it")
    if not min_instances <= instance_count <= max_instances:
        return (
            "hosting_instance_count",
            f"is {instance_count}; with autoscaling on it must lie between autoscaling_min_instances ({min_instances}) "
            f"and autoscaling_max_instances ({max_instances})",
        )
    return None


def transform_problem(max_concurrent: int, max_payload_mb: int) -> tuple[str, str] | None:
    total = max_concurrent * max_payload_mb
    if total > MAX_TRANSFORM_MB:
        return (
            "transform_max_concurrent",
            f"transform_max_concurrent × transform_max_payload_mb is {max_concurrent} × {max_payload_mb} = {total} MB; "
            f"SageMaker allows at most {MAX_TRANSFORM_MB} MB in flight; lower one of them",
        )
    return None


def split_problem(parts: int, instances: int) -> tuple[str, str] | None:
    """A split (more than one part) must give every transform instance at least one object; 0 and 1
    leave the input as it is (one object is one part)."""
    if 1 < parts < instances:
        return (
            "transform_split_objects",
            f"is {parts}, fewer than transform_instance_count ({instances}): SageMaker maps whole objects to instances, "
            f"so {instances - parts} instance(s) would get no part and idle; use at least {instances}, or 0 to use the input as it is",
        )
    return None
