"""A blue/green update's progress lines: one vocabulary, fed by the local backend's steps or SageMaker's DescribeEndpoint."""

from __future__ import annotations

import datetime
from typing import Any

from ml.backends.base import BlueGreenPolicy
from ml.backends.rollout import Rollout

POLICY = BlueGreenPolicy(traffic="CANARY", step_percent=25, wait_seconds=300, baking_seconds=600, error_rate_percent=1, p99_latency_ms=200)
STARTED = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _described(status: str, *, green: str | None = None, weight: float = 0.0) -> dict[str, Any]:
    live = {"VariantName": "AllTraffic", "CurrentWeight": 1.0, "DesiredWeight": 1.0, "CurrentInstanceCount": 2, "DesiredInstanceCount": 2}
    described: dict[str, Any] = {"EndpointName": "ep", "EndpointStatus": status, "ProductionVariants": [live]}
    if green:
        variant = {
            "VariantName": "AllTraffic",
            "CurrentWeight": weight,
            "DesiredWeight": 1.0,
            "CurrentInstanceCount": 2,
            "DesiredInstanceCount": 2,
            "VariantStatus": [{"Status": green, "StartTime": STARTED}],
        }
        described["PendingDeploymentSummary"] = {"EndpointConfigName": "ep-v2", "ProductionVariants": [variant]}
    return described


def test_sagemaker_polls_become_one_line_per_change() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    for described in [
        _described("Updating", green="Creating"),
        _described("Updating", green="Creating"),  # nothing changed: nothing said
        _described("Updating", green="ActivatingTraffic", weight=0.25),
        _described("Updating", green="Baking", weight=1.0),
        _described("InService"),
    ]:
        rollout.described(described)
    assert lines == [
        "endpoint ep: Updating",
        "blue fleet (version 1): serving; weight 1 -> 1, instances 2 -> 2",
        "green fleet (version 2): Creating; weight 0 -> 1, instances 2 -> 2",
        "green fleet (version 2): ActivatingTraffic; weight 0.25 -> 1, instances 2 -> 2",
        "green fleet (version 2): Baking; weight 1 -> 1, instances 2 -> 2",
        "endpoint ep: InService",
    ]


def test_the_plan_and_the_steps_read_the_same_whoever_drives_them() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    rollout.plan(POLICY)
    rollout.traffic(25, dwell_s=300)
    rollout.alarm_check(breach=None, measured="40 requests")
    rollout.traffic(100, dwell_s=600)
    rollout.alarm_check(breach="error-rate alarm: 3 of 40", measured="40 requests")
    rollout.rolling_back("error-rate alarm: 3 of 40")
    rollout.rolled_back()
    assert lines == [
        "blue/green update of ep from version 1 to 2: CANARY (25%, 100%), waiting 300s after each step, baking 600s; "
        "auto-rollback on more than 1% errors or p99 over 200 ms",
        "25% of traffic on version 2; waiting 300s",
        "alarm check: ok (40 requests)",
        "100% of traffic on version 2; baking 600s",
        "alarm check: BREACHED: error-rate alarm: 3 of 40",
        "rolling back to version 1: error-rate alarm: 3 of 40",
        "rolled back: version 1 serves all traffic; green (version 2) stopped",
    ]


def test_a_status_is_said_once_per_change() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    for status in ("Updating", "Updating", "RollingBack", "InService"):
        rollout.status(status)
    assert lines == ["endpoint ep: Updating", "endpoint ep: RollingBack", "endpoint ep: InService"]


def test_the_local_steps_and_a_successful_end_read_the_same_words() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=3, blue_version=2)
    rollout.green_starting("2 instances")
    rollout.green_healthy("(2 of 2 answer /ping)")
    rollout.traffic(99, dwell_s=1.5)
    rollout.blue_retired()
    assert lines == [
        "green (version 3): starting 2 instances",
        "green (version 3) is healthy (2 of 2 answer /ping)",
        "99% of traffic on version 3; waiting 1.5s",
        "retired blue (version 2); version 3 serves all traffic",
    ]


def test_a_status_message_and_missing_numbers_are_shown_as_sagemaker_gives_them() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    green = {"VariantName": "AllTraffic", "CurrentWeight": 0.5, "DesiredInstanceCount": 3, "VariantStatus": [
        {"Status": "Creating", "StatusMessage": "launching instances"}, {"Status": "Updating"},
    ]}  # fmt: skip
    rollout.described({"EndpointStatus": "Updating", "ProductionVariants": [], "PendingDeploymentSummary": {"ProductionVariants": [green]}})
    assert lines == [
        "endpoint ep: Updating",
        "green fleet (version 2): Creating (launching instances); Updating; weight 0.5 -> -, instances - -> 3",
    ]


def test_without_a_sink_nothing_is_said_and_nothing_fails() -> None:
    rollout = Rollout(sink=None, endpoint="ep", version=2, blue_version=1)
    rollout.plan(POLICY)
    rollout.described(_described("Updating", green="Creating"))
    rollout.rolled_back()


def test_each_variant_is_followed_by_name_and_only_its_changes_are_said() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    a = {"VariantName": "A", "CurrentWeight": 0.5, "DesiredWeight": 0.5, "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}
    b = {**a, "VariantName": "B"}
    rollout.described({"ProductionVariants": [a, b]})  # no status given: nothing said about it
    rollout.described({"ProductionVariants": [a, {**b, "CurrentWeight": 0.25}]})
    assert lines == [
        "blue fleet (version 1): serving; weight 0.5 -> 0.5, instances 1 -> 1",
        "blue fleet (version 1): serving; weight 0.5 -> 0.5, instances 1 -> 1",
        "blue fleet (version 1): serving; weight 0.25 -> 0.5, instances 1 -> 1",
    ]


def test_a_variant_status_without_a_status_word_shows_its_message() -> None:
    lines: list[str] = []
    rollout = Rollout(sink=lines.append, endpoint="ep", version=2, blue_version=1)
    green = {"VariantName": "AllTraffic", "VariantStatus": [{"StatusMessage": "waiting for capacity"}]}
    rollout.described({"EndpointStatus": "Updating", "PendingDeploymentSummary": {"ProductionVariants": [green]}})
    assert lines == ["endpoint ep: Updating", "green fleet (version 2):  (waiting for capacity); weight - -> -, instances - -> -"]
