"""The transform benchmark's scale-out table and its AWS worked example."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench.transform import scale_out_section
from tools.bench.transform_scale import PRICE_PER_HOUR, STARTUP_MINUTES, ScaleResult, render_aws_example, render_scale_out

ROOT = Path(__file__).resolve().parents[3]


def result(instances: int, seconds: float, start: float = 0.5) -> ScaleResult:
    return ScaleResult(
        instances=instances, rows=10_000_000, seconds=seconds, parts=4 * instances, split_s=0.1, join_s=0.05,
        server_start_s=start, peak_pss_mb=300.0, load_1min=1.0,
    )  # fmt: skip


def test_the_worked_example_is_the_work_plus_one_start_up_per_instance() -> None:
    # 10M rows in 4.5 s of work: 2,222,222 rows/s; 200 GB of 25-byte rows is 8 billion rows, 1.0 h of work.
    lines = render_aws_example([result(1, 5.0), result(2, 4.0), result(4, 4.2)], bytes_per_row=25.0)
    text = "\n".join(lines)
    work_h = 8e9 / (10_000_000 / 4.5) / 3600
    wall = STARTUP_MINUTES / 60 + work_h / 16
    assert f"| 16 | 64 | {wall:.2f} | {16 * wall:.2f} | ${16 * wall * PRICE_PER_HOUR:.2f} |" in text
    assert f"| 1 | 4 | {STARTUP_MINUTES / 60 + work_h:.2f} |" in text
    assert "2026-12-04" in text and "$0.115" in text  # the price says where and when it is from


def test_the_scale_out_table_compares_with_one_instance() -> None:
    text = "\n".join(render_scale_out([result(1, 4.0), result(2, 5.0), result(4, 8.0)], file_mb=253, cores=2))
    assert "| 2 | 8 | 5.00 | 2,000,000 | 0.80x |" in text
    assert "It has 2 cores" in text


@pytest.mark.slow
def test_the_scale_out_runs_real_jobs_on_1_2_and_4_instances() -> None:
    text = scale_out_section(root=ROOT, rows=6_000, rounds=1)
    for instances, parts in ((1, 4), (2, 8), (4, 16)):
        assert f"\n| {instances} | {parts} | " in text
    assert "instance-hours" in text
