"""Data capture's cost in the serving bench: the table, and one short real run through three routers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench.capture_cost import CaptureCell, measure_capture_cost, render

REPO = Path(__file__).resolve().parents[3]


def test_each_setting_is_shown_against_capture_off() -> None:
    cells = [
        CaptureCell(percent=0, client="keep-alive", requests_per_s=10_000, p99_ms=1.5, errors=0, load_1m=2),
        CaptureCell(percent=100, client="keep-alive", requests_per_s=7_500, p99_ms=2.5, errors=0, load_1m=2),
    ]
    table = render(cells, {100: 1.0}, duration_s=3, rounds=3)
    assert "| off | keep-alive | 10,000 | 1.50 | 0 | 1.00× | 2.0 |" in table
    assert "| 100% | keep-alive | 7,500 | 2.50 | 0 | 0.75× | 2.0 |" in table
    assert "Records written per answered request: 100%: 1.000." in table


@pytest.mark.slow
def test_capture_keeps_up_and_fails_no_request() -> None:
    cells, written = measure_capture_cost(root=REPO, duration_s=1, rounds=1)
    assert {(c.percent, c.client) for c in cells} == {(p, k) for p in (0, 20, 100) for k in ("keep-alive", "close")}
    assert all(c.errors == 0 and c.requests_per_s > 0 for c in cells), cells
    assert written[100] == pytest.approx(1.0, abs=0.01)  # every answered request was recorded
    assert 0.1 < written[20] < 0.3  # sampled, as SageMaker samples
