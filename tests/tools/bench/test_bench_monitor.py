"""The monitor benchmark's fixture is SageMaker capture the monitor reads whole, against training's own baseline."""

from __future__ import annotations

from pathlib import Path

from tools.bench.monitor import measure, render

ROOT = Path(__file__).resolve().parents[3]


def test_every_fixture_row_is_read_and_matches_the_training_baseline() -> None:
    run = measure(root=ROOT, rows=3000)
    assert run.rows == 3000
    assert run.breaches == []  # iris replayed with its own labels: no drift, nothing out of range
    assert run.peak_rss_mb > 0 and run.capture_mb > 0 and run.cpu_seconds > 0
    assert "| 3,000 |" in render([run], load="0.00 / 0.00 / 0.00", cores=2)
