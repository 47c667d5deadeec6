"""``invoke monitor`` as a pipeline runs it: a real subprocess, its exit status and its output."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor_fixtures import ENDPOINT, values_lines, write_baseline, write_capture

ROOT = Path(__file__).resolve().parents[3]
AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
CENTRES = [i + 0.5 for i in range(10)]


def _invoke(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "invoke", "monitor", "--endpoint", ENDPOINT, "--capture-dir", str(tmp_path / "capture")]
    command += ["--since", "2026-11-28T05:00", "--until", "2026-11-28T06:00", "--report", str(tmp_path / "report.html"), *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)


def test_a_breach_exits_3_after_printing_the_table_and_writing_the_report(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([9.5] * 100, ["a", "b"] * 50, at=AT), at=AT)
    result = _invoke(tmp_path, "--baseline", str(write_baseline(tmp_path / "baseline")))
    assert result.returncode == 3, result.stderr
    assert "monitor: 1 threshold(s) breached" in result.stderr
    assert "BREACH: PSI" in result.stdout and "verdict: BREACH (1)" in result.stdout
    assert (tmp_path / "report.html").is_file()


def test_a_clean_window_exits_0(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines(CENTRES * 10, ["a", "b"] * 50, at=AT), at=AT)
    result = _invoke(tmp_path, "--baseline", str(write_baseline(tmp_path / "baseline")))
    assert result.returncode == 0, result.stderr
    assert "verdict: OK: within every threshold" in result.stdout
    assert f"report: {tmp_path / 'report.html'}" in result.stdout


def test_bad_input_exits_1_with_the_problem_named(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "capture", ["not json"], at=AT)
    result = _invoke(tmp_path, "--baseline", str(write_baseline(tmp_path / "baseline")))
    assert result.returncode == 1
    assert f"error: {path}:1: not a SageMaker data capture record" in result.stderr
    write_capture(tmp_path / "capture", values_lines([0.5], ["a"], at=AT), at=AT)
    result = _invoke(tmp_path, "--baseline", str(tmp_path / "no-such-baseline"))
    assert result.returncode == 1
    assert f"error: --baseline {tmp_path / 'no-such-baseline'} does not exist" in result.stderr
    (tmp_path / "empty").mkdir()
    result = _invoke(tmp_path, "--baseline", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "no baseline in" in result.stderr and "missing baseline/statistics.json" in result.stderr


def test_too_few_rows_exit_0_and_say_insufficient_data_plainly(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([9.5] * 10, ["a"] * 10, at=AT), at=AT)  # would breach, on 10 rows
    result = _invoke(tmp_path, "--baseline", str(write_baseline(tmp_path / "baseline")))
    assert result.returncode == 0, result.stderr
    assert "verdict: INSUFFICIENT DATA: no version had monitor_min_rows (100) rows to compare" in result.stdout
    assert "breached" not in result.stderr


def test_a_record_exactly_at_until_is_outside_the_window_and_one_at_since_inside(tmp_path: Path) -> None:
    since, until = datetime(2026, 11, 28, 5, tzinfo=UTC), datetime(2026, 11, 28, 6, tzinfo=UTC)
    inside = values_lines(CENTRES * 10, ["a", "b"] * 50, at=AT)
    at_until = values_lines([9.5] * 200, ["a"] * 200, at=until)  # 200 far-off rows at 06:00:00 exactly: a breach if counted
    at_since = values_lines([0.5], ["a"], at=since)
    write_capture(tmp_path / "capture", inside + at_since, at=AT)
    write_capture(tmp_path / "capture", at_until, at=until)
    result = _invoke(tmp_path, "--baseline", str(write_baseline(tmp_path / "baseline")))
    assert result.returncode == 0, result.stdout
    assert "101 records, 0 answered with an error (0.00% error rate), 101 rows compared" in result.stdout
    assert "verdict: OK" in result.stdout
