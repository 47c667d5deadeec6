"""Which version answered at a given time on AWS, from the endpoint's deployment history; never a guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml.backends.sagemaker.deployments import Deployment, encode, parse
from ml.monitor.history import ServingHistory

T0 = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
CREATE = Deployment(start=T0, settled=T0 + timedelta(minutes=5), version=1)
UPDATE = Deployment(start=T0 + timedelta(hours=1), settled=T0 + timedelta(hours=1, minutes=10), version=2)
HISTORY = ServingHistory(deployments=(CREATE, UPDATE), current=2)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_between_deployments_the_settled_version_answered() -> None:
    assert HISTORY.version_at(_at(5)).version == 1  # settled is the first moment of the version alone
    assert HISTORY.version_at(_at(59.99)).version == 1
    assert HISTORY.version_at(_at(70)).version == 2
    assert HISTORY.version_at(_at(600)).version == 2


def test_during_a_deployment_both_fleets_answer_so_no_version_is_named() -> None:
    for minutes in (60, 65, 69.99):
        answered = HISTORY.version_at(_at(minutes))
        assert answered.version is None
        assert answered.reason == (
            "answered during the update to version 2 (06:00:00-06:10:00Z), when the old and the new fleet both answered"
        )
    assert HISTORY.version_at(_at(4)).version is None  # still Creating: nothing settled yet


def test_before_the_history_nothing_is_named() -> None:
    answered = HISTORY.version_at(_at(-1))
    assert (answered.version, answered.reason) == (None, "answered before the oldest deployment the endpoint's history records")
    assert ServingHistory(deployments=(), current=1).version_at(_at(1)).version is None


def test_a_config_changed_outside_the_history_makes_later_records_unattributable() -> None:
    changed = ServingHistory(deployments=(CREATE, UPDATE), current=3)
    answered = changed.version_at(_at(80))
    assert answered.version is None and "the endpoint now runs version 3" in answered.reason
    assert changed.version_at(_at(30)).version == 1  # before the last deploy: the history still holds
    assert ServingHistory(deployments=(CREATE, UPDATE), current=0).version_at(_at(80)).version == 2  # endpoint gone: nothing contradicts


def test_the_tag_keeps_the_newest_entries_that_fit_and_reads_back() -> None:
    many = [Deployment(start=T0 + timedelta(hours=i), settled=T0 + timedelta(hours=i, minutes=5), version=i + 1) for i in range(12)]
    value = encode(many)
    assert len(value) <= 256
    kept = parse(value)
    assert kept == tuple(many[-len(kept) :]) and len(kept) == 7  # 35 characters an entry: seven fit
    assert parse("20261128T050000Z/20261128T050500Z=1 edited-by-hand") == (CREATE,)
    assert encode([CREATE]) == "20261128T050000Z/20261128T050500Z=1"
