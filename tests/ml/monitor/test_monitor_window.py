"""The monitor's window: ``[since, until)`` in UTC, and the capture hours it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ml.errors import UserInputError
from ml.monitor.window import Window, parse_time, window_from

SINCE = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
WINDOW = Window(since=SINCE, until=UNTIL)


def test_since_is_inside_and_until_is_outside() -> None:
    assert SINCE in WINDOW
    assert UNTIL - timedelta(microseconds=1) in WINDOW
    assert UNTIL not in WINDOW  # a record exactly at --until belongs to the next window
    assert SINCE - timedelta(microseconds=1) not in WINDOW


def test_the_hours_read_start_at_since_and_include_the_hour_after_until() -> None:
    # SageMaker files a record under the hour it wrote the file, a little after the inference.
    assert list(WINDOW.hours()) == [datetime(2026, 11, 28, h, tzinfo=UTC) for h in (5, 6, 7)]
    ragged = Window(since=datetime(2026, 11, 28, 5, 30, 45, 123, tzinfo=UTC), until=UNTIL)
    assert next(ragged.hours()) == datetime(2026, 11, 28, 5, tzinfo=UTC)  # the hour itself, not 05:00:45.000123
    on_the_hour = Window(since=datetime(2026, 11, 28, 5, tzinfo=UTC), until=datetime(2026, 11, 28, 5, 30, tzinfo=UTC))
    assert list(on_the_hour.hours()) == [datetime(2026, 11, 28, 5, tzinfo=UTC), datetime(2026, 11, 28, 6, tzinfo=UTC)]


def test_an_empty_or_zoneless_window_is_refused() -> None:
    with pytest.raises(UserInputError, match="the window is empty: --until 2026-11-28T05:30:00"):
        Window(since=SINCE, until=SINCE)
    with pytest.raises(UserInputError, match=r"^window times must carry a time zone \(UTC\)$"):
        Window(since=SINCE.replace(tzinfo=None), until=UNTIL)
    with pytest.raises(UserInputError, match=r"^window times must carry a time zone \(UTC\)$"):
        Window(since=SINCE, until=UNTIL.replace(tzinfo=None))
    assert WINDOW.describe() == "2026-11-28T05:30:00Z to 2026-11-28T07:00:00Z"


@pytest.mark.usefixtures("away_from_utc")
def test_times_without_a_zone_are_utc_and_others_are_converted() -> None:
    assert parse_time("2026-11-28T06:00", flag="--since") == datetime(2026, 11, 28, 6, tzinfo=UTC)
    assert parse_time("2026-11-28T06:00", flag="--since").utcoffset() == timedelta(0)
    assert parse_time(" 2026-11-28T06:00:00Z ", flag="--since") == datetime(2026, 11, 28, 6, tzinfo=UTC)
    east = parse_time("2026-11-28T08:00+02:00", flag="--since")
    assert east == datetime(2026, 11, 28, 6, tzinfo=UTC) and east.utcoffset() == timedelta(0)
    assert east.tzinfo == UTC
    with pytest.raises(UserInputError, match=r"^--since 'tuesday' is not a time; use ISO 8601 such as 2026-11-28T06:00"):
        parse_time("tuesday", flag="--since")


def test_the_flags_make_the_window() -> None:
    now = datetime(2026, 11, 28, 6, tzinfo=UTC)
    assert window_from(hours=2, default_hours=24, now=now) == Window(since=now - timedelta(hours=2), until=now)
    assert window_from(hours=0.5, default_hours=24, now=now).since == now - timedelta(minutes=30)
    assert window_from(default_hours=3, now=now) == Window(since=now - timedelta(hours=3), until=now)
    given = window_from(since="2026-11-28T01:00", until="2026-11-28T02:00", default_hours=24, now=now)
    assert given == Window(since=datetime(2026, 11, 28, 1, tzinfo=UTC), until=datetime(2026, 11, 28, 2, tzinfo=UTC))
    assert window_from(until="2026-11-28T02:00", hours=1, default_hours=24, now=now).since == datetime(2026, 11, 28, 1, tzinfo=UTC)
    before = datetime.now(UTC)
    assert before <= window_from(default_hours=1).until <= datetime.now(UTC)  # until defaults to now
    with pytest.raises(UserInputError, match=r"^--hours must be positive, not -1$"):
        window_from(hours=-1, default_hours=24, now=now)
    with pytest.raises(UserInputError, match=r"^give --since or --hours, not both$"):
        window_from(since="2026-11-28T05:00", hours=1, default_hours=24, now=now)
    with pytest.raises(UserInputError, match=r"^--until 'soon' is not a time"):
        window_from(until="soon", default_hours=24, now=now)
    with pytest.raises(UserInputError, match=r"^--since 'later' is not a time"):
        window_from(since="later", default_hours=24, now=now)
