"""The time window a monitor run reads: ``[since, until)`` in UTC, and the capture hours it spans."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ml.errors import UserInputError


def parse_time(text: str, *, flag: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC (SageMaker's capture times are UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())  # Python 3.11 reads a trailing Z as UTC itself
    except ValueError:
        raise UserInputError(f"{flag} {text!r} is not a time; use ISO 8601 such as 2026-11-28T06:00 or 2026-11-28T06:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Window:
    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise UserInputError("window times must carry a time zone (UTC)")
        if self.until <= self.since:
            raise UserInputError(f"the window is empty: --until {self.until.isoformat()} is not after --since {self.since.isoformat()}")

    def __contains__(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def hours(self) -> Iterator[datetime]:
        """Every hour folder that can hold a record of the window.

        SageMaker files a record under the hour it wrote the file, a little after the inference,
        so the hour after ``until`` is read too; records are kept by their own ``inferenceTime``.
        """
        hour = self.since.replace(minute=0, second=0, microsecond=0)
        last = self.until + timedelta(hours=1)
        while hour < last:
            yield hour
            hour += timedelta(hours=1)

    def describe(self) -> str:
        return f"{self.since:%Y-%m-%dT%H:%M:%SZ} to {self.until:%Y-%m-%dT%H:%M:%SZ}"


def window_from(*, since: str = "", until: str = "", hours: float = 0.0, default_hours: int, now: datetime | None = None) -> Window:
    """The window the flags name: ``--since``/``--until``, or the last ``--hours`` up to until (or now)."""
    end = parse_time(until, flag="--until") if until else (now or datetime.now(UTC))
    if since and hours:
        raise UserInputError("give --since or --hours, not both")
    if hours < 0:
        raise UserInputError(f"--hours must be positive, not {hours:g}")
    start = parse_time(since, flag="--since") if since else end - timedelta(hours=hours or default_hours)
    return Window(since=start, until=end)
