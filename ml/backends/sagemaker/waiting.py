"""Polling with a deadline: every wait in this backend ends, with a message that says why."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from ml.errors import TimeoutExpiredError

T = TypeVar("T")


class Clock(Protocol):
    """Time source; tests inject a fake so that hour-long waits take no real time."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, kw_only=True)
class Deadline:
    """How long to wait for one resource, and how often to ask."""

    seconds: float
    poll_seconds: float = 30.0

    def remaining(self, *, started: float, clock: Clock) -> Deadline:
        """What is left of this deadline ``clock.monotonic() - started`` seconds in."""
        return Deadline(seconds=max(0.0, self.seconds - (clock.monotonic() - started)), poll_seconds=self.poll_seconds)


def wait_for(
    describe: Callable[[], dict[str, Any]],
    *,
    settled: Callable[[dict[str, Any]], bool],
    status_of: Callable[[dict[str, Any]], str],
    deadline: Deadline,
    clock: Clock,
    what: str,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Call ``describe`` until ``settled`` says so; return the last description.

    Raises :class:`TimeoutExpiredError` naming ``what``, the deadline and the last status. The
    resource itself keeps going on AWS, so the message says how to resume.
    """
    start = clock.monotonic()
    while True:
        described = describe()
        if on_poll is not None:
            on_poll(described)
        if settled(described):
            return described
        elapsed = clock.monotonic() - start
        if elapsed >= deadline.seconds:
            raise TimeoutExpiredError(
                f"{what} did not settle within {deadline.seconds:.0f}s (last status {status_of(described)!r}); "
                "it may still be running on AWS: check the SageMaker console, then re-run the task to resume waiting"
            )
        clock.sleep(min(deadline.poll_seconds, deadline.seconds - elapsed))


def retry_while(
    call: Callable[[], T],
    *,
    retryable: Callable[[ClientError], bool],
    deadline: Deadline,
    clock: Clock,
    what: str,
    on_retry: Callable[[ClientError, float], None] | None = None,
    first_delay: float = 1.0,
) -> T:
    """``call()``, again after 1, 2, 4 ... s (capped at the deadline's poll interval) while it fails
    with an error ``retryable`` accepts, for as long as ``deadline`` allows; then that error's
    :class:`TimeoutExpiredError`. Any other error is raised at once."""
    start, delay = clock.monotonic(), first_delay
    while True:
        try:
            return call()
        except ClientError as err:
            if not retryable(err):
                raise
            elapsed = clock.monotonic() - start
            if elapsed + delay > deadline.seconds:
                raise TimeoutExpiredError(
                    f"{what} still failed after {elapsed:.0f}s of retries ({err}); re-run the task to try again"
                ) from err
            if on_retry is not None:
                on_retry(err, delay)
            clock.sleep(delay)
            delay = min(delay * 2, deadline.poll_seconds)
