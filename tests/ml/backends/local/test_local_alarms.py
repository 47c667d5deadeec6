"""Alarms read from the router's access log judge the new variant's own attempts."""

from __future__ import annotations

import time
from pathlib import Path

from ml.backends.local.alarms import AlarmWatch, p99, parse_line

GREEN = "127.0.0.1:2000"
BLUE = "127.0.0.1:1000"


def _line(upstreams: str, statuses: str, times: str, at: float | None = None) -> str:
    return f'{at or time.time():.3f} 200 0.010 "{upstreams}" "{statuses}" "{times}" "/invocations"\n'


def test_a_retried_green_failure_counts_against_green_not_blue() -> None:
    attempts = parse_line(_line(f"{GREEN}, {BLUE}", "500, 200", "0.002, 0.003").strip())
    assert [(a.addr, a.status) for a in attempts] == [(GREEN, 500), (BLUE, 200)]


def test_error_rate_alarm_fires_on_green_errors_only(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    watch = AlarmWatch(log=log, addrs={GREEN}, error_rate_percent=1.0, p99_latency_ms=1000)
    log.write_text(_line(BLUE, "500", "0.001") * 5 + _line(GREEN, "200", "0.001") * 10)
    assert watch.check() is None
    with log.open("a") as out:
        out.write(_line(f"{GREEN}, {BLUE}", "502, 200", "0.000, 0.001"))
    alarm = watch.check()
    assert alarm is not None and "error-rate alarm: 1 of 11" in alarm


def test_a_plain_500_that_nginx_retried_on_blue_still_fires_the_alarm(tmp_path: Path) -> None:
    # The client saw 200 (blue answered the retry); green's own 500 must still count.
    log = tmp_path / "access.log"
    log.write_text("")
    watch = AlarmWatch(log=log, addrs={GREEN}, error_rate_percent=1.0, p99_latency_ms=1000)
    log.write_text(_line(GREEN, "200", "0.001") * 10 + _line(f"{GREEN}, {BLUE}", "500, 200", "0.002, 0.001"))
    alarm = watch.check()
    assert alarm is not None and "1 of 11 requests to the new variant failed" in alarm


def test_latency_alarm_needs_enough_samples_then_fires_on_p99(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    watch = AlarmWatch(log=log, addrs={GREEN}, error_rate_percent=1.0, p99_latency_ms=100)
    log.write_text(_line(GREEN, "200", "0.500") * 5)
    assert watch.check() is None  # five slow answers are not a p99
    with log.open("a") as out:
        out.write(_line(GREEN, "200", "0.500") * 20)
    alarm = watch.check()
    assert alarm is not None and "latency alarm: p99 of the new variant is 500 ms" in alarm


def test_old_attempts_leave_the_window(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    watch = AlarmWatch(log=log, addrs={GREEN}, error_rate_percent=1.0, p99_latency_ms=100, window_s=5)
    log.write_text(_line(GREEN, "500", "0.001", at=time.time() - 60))
    assert watch.check() is None


def test_p99_of_a_hundred_values_is_the_99th() -> None:
    assert p99([float(i) for i in range(1, 101)]) == 99.0
