"""Local CloudWatch-style alarms for a blue/green update, read from the router's access log.

Each log line lists every upstream nginx tried for one request (``$upstream_addr`` with the
matching ``$upstream_status`` and ``$upstream_response_time``). The alarms judge the green
variant's own attempts, not what the client finally saw: a green 500 that nginx retried on blue
is invisible to the client but still counts against green, exactly like SageMaker's per-variant
``Invocation5XXErrors`` and ``ModelLatency`` metrics.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r'^(?P<msec>[\d.]+) (?P<status>\d+) [\d.]+ "(?P<addr>[^"]*)" "(?P<ustatus>[^"]*)" "(?P<utime>[^"]*)"')
# Fewer samples than this cannot give a p99 worth acting on; the error-rate alarm still works.
MIN_LATENCY_SAMPLES = 20


@dataclass(frozen=True, kw_only=True)
class Attempt:
    at: float  # epoch seconds
    addr: str
    status: int  # 502 when nginx could not connect at all
    seconds: float


def parse_line(line: str) -> list[Attempt]:
    match = _LINE.match(line)
    if match is None:
        return []
    # Retries are comma-separated; an internal redirect adds " : " groups, which we flatten.
    addrs = re.split(r"\s*[,:]\s+", match["addr"])
    statuses = re.split(r"\s*[,:]\s+", match["ustatus"])
    times = re.split(r"\s*[,:]\s+", match["utime"])
    attempts = []
    for addr, status, seconds in zip(addrs, statuses, times, strict=False):
        if not addr or addr == "-":
            continue
        attempts.append(
            Attempt(at=float(match["msec"]), addr=addr, status=int(status) if status.isdigit() else 502, seconds=_float(seconds))
        )
    return attempts


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


class AccessLog:
    """Tails the router's access log from where it is now: each :meth:`read` returns the new attempts."""

    def __init__(self, *, log: Path) -> None:
        self._log = log
        self._offset = log.stat().st_size if log.exists() else 0
        self._partial = ""

    def read(self) -> list[Attempt]:
        if not self._log.exists():
            return []
        with self._log.open("r", encoding="utf-8", errors="replace") as handle:
            if handle.seek(0, 2) < self._offset:  # rotated or truncated: start again from its beginning
                self._offset, self._partial = 0, ""
            handle.seek(self._offset)
            chunk = handle.read()
            self._offset = handle.tell()
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()  # nginx may be mid-line
        return [attempt for line in lines for attempt in parse_line(line)]


class AlarmWatch:
    """Tails the access log from where it is now and judges one variant over a sliding window."""

    def __init__(
        self, *, log: Path, addrs: Collection[str], error_rate_percent: float, p99_latency_ms: float, window_s: float = 10.0
    ) -> None:
        self._log = AccessLog(log=log)
        self._addrs = frozenset(addrs)  # every instance of the variant
        self._error_rate = error_rate_percent
        self._p99_ms = p99_latency_ms
        self._window = window_s
        self._seen: deque[Attempt] = deque()
        self.total = 0

    def _read(self) -> None:
        for attempt in self._log.read():
            if attempt.addr in self._addrs:
                self._seen.append(attempt)
                self.total += 1

    def summary(self) -> str:
        """What the window holds now, for the progress line of an alarm check."""
        errors = sum(1 for a in self._seen if a.status >= 500)
        latency = f", p99 {1000.0 * p99([a.seconds for a in self._seen]):.1f} ms" if self._seen else ""
        return f"{len(self._seen)} requests to the new variant in the last {self._window:g}s, {errors} errors{latency}"

    def check(self) -> str | None:
        """Why the alarm is firing now, or None while the variant is healthy (or unjudged)."""
        self._read()
        horizon = time.time() - self._window
        while self._seen and self._seen[0].at < horizon:
            self._seen.popleft()
        if not self._seen:
            return None
        errors = sum(1 for a in self._seen if a.status >= 500)
        rate = 100.0 * errors / len(self._seen)
        if errors and rate > self._error_rate:
            return (
                f"error-rate alarm: {errors} of {len(self._seen)} requests to the new variant failed ({rate:.1f}% > {self._error_rate:g}%)"
            )
        if len(self._seen) >= MIN_LATENCY_SAMPLES:
            latency = 1000.0 * p99([a.seconds for a in self._seen])
            if latency > self._p99_ms:
                return f"latency alarm: p99 of the new variant is {latency:.0f} ms over {len(self._seen)} requests (> {self._p99_ms:g} ms)"
        return None
