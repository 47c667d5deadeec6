"""Version selection and blue/green step plans, shared by both backends."""

from __future__ import annotations

import pytest

from ml.backends.base import ROLLBACK_POLICY, BlueGreenPolicy, report_target, rollback_target, select_version
from ml.backends.records import ModelVersion
from ml.errors import NotFoundError, UserInputError


def _version(number: int, status: str) -> ModelVersion:
    return ModelVersion(group="g", version=number, approval_status=status, artifact_uri=f"file:///m/{number}")


VERSIONS = [
    _version(1, "Approved"),
    _version(2, "Rejected"),
    _version(3, "Approved"),
    _version(4, "Approved"),
    _version(5, "PendingManualApproval"),
]
ORDERS = {
    "ascending": VERSIONS,
    "descending": VERSIONS[::-1],  # what both backends' list_versions returns
    "shuffled": [VERSIONS[2], VERSIONS[4], VERSIONS[3], VERSIONS[0], VERSIONS[1]],
    "oldest approved first": [VERSIONS[0], VERSIONS[4], VERSIONS[1], VERSIONS[3], VERSIONS[2]],
}


@pytest.mark.parametrize("order", ORDERS)
def test_newest_approved_is_chosen_whatever_the_order(order: str) -> None:
    assert select_version(ORDERS[order]).version == 4


def test_explicit_version_wins_but_not_if_rejected() -> None:
    versions = [_version(1, "PendingManualApproval"), _version(2, "Rejected")]
    assert select_version(versions, explicit=1).version == 1
    with pytest.raises(UserInputError, match="Rejected; approve it first"):
        select_version(versions, explicit=2)
    with pytest.raises(NotFoundError, match="version 7 does not exist.*1, 2"):
        select_version(versions, explicit=7)


def test_no_approved_version_says_what_to_do() -> None:
    with pytest.raises(NotFoundError, match="invoke approve 2"):
        select_version([_version(1, "Rejected"), _version(2, "PendingManualApproval")])
    with pytest.raises(NotFoundError, match="invoke train"):
        select_version([])


@pytest.mark.parametrize(
    ("traffic", "step", "expected"),
    [
        ("ALL_AT_ONCE", 10, [100]),
        ("CANARY", 10, [10, 100]),
        ("CANARY", 100, [100]),
        ("LINEAR", 25, [25, 50, 75, 100]),
        ("LINEAR", 40, [40, 80, 100]),
    ],
)
def test_traffic_steps(traffic: str, step: int, expected: list[int]) -> None:
    policy = BlueGreenPolicy(traffic=traffic, step_percent=step, wait_seconds=0, baking_seconds=0, error_rate_percent=1, p99_latency_ms=100)
    assert policy.steps() == expected


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(UserInputError, match="traffic"):
        BlueGreenPolicy(traffic="RANDOM", step_percent=10, wait_seconds=0, baking_seconds=0, error_rate_percent=1, p99_latency_ms=100)


def _target(serving: int, history: list[int], to: int | None = None) -> int:
    return rollback_target(VERSIONS, endpoint_name="e", serving=serving, history=history, to_version=to).version


def test_rollback_goes_to_the_explicit_version_else_the_last_served_one_else_the_newest_older_approved() -> None:
    assert _target(4, [1, 3, 4], to=1) == 1
    assert _target(4, [1, 3]) == 3  # history, newest last
    assert _target(4, [3, 4]) == 3  # the serving version in its own history is skipped
    assert _target(4, []) == 3  # no history: the newest approved older one (2 is rejected, 5 is newer)
    assert _target(3, []) == 1
    assert _target(4, [], to=4) == 4  # the serving one: the backends make it a no-op


def test_rollback_with_nowhere_to_go_or_to_a_rejected_version_says_so() -> None:
    with pytest.raises(NotFoundError, match="'e' has served only version 1 .* pass --to VERSION"):
        _target(1, [])
    with pytest.raises(UserInputError, match="version 2 is Rejected"):
        _target(4, [2])
    assert ROLLBACK_POLICY.steps() == [100] and not ROLLBACK_POLICY.auto_rollback
    assert (ROLLBACK_POLICY.wait_seconds, ROLLBACK_POLICY.baking_seconds) == (0, 0)


def test_a_report_is_of_the_named_version_else_the_newest_registered() -> None:
    assert report_target(ORDERS["shuffled"], None) == 5
    assert report_target(VERSIONS, 2) == 2
    with pytest.raises(NotFoundError, match="no model versions registered yet"):
        report_target([], None)
