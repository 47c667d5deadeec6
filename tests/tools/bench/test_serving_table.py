"""The serving bench's arithmetic and table, without servers: wrk's line parsed, medians, ratios."""

from __future__ import annotations

import pytest

from ml.errors import ByocError
from tools.bench.serving_table import Measurement, Run, markdown_table, median_cell, parse_wrk, summary


def _cell(variant: str, rate: float, *, p99: float = 5.0, rows: int = 1, client: str = "close") -> Measurement:
    return Measurement(
        variant=variant, rows=rows, connections=16, client=client, requests_per_s=rate, p50_ms=1.0, p99_ms=p99, errors=0, load_1m=3.25
    )  # fmt: skip


def test_parse_wrk_reads_the_bench_line_among_wrks_own_output() -> None:
    stdout = "Running 5s test @ http://127.0.0.1:1/invocations\n  2 threads\nBENCH 10000 5000000 1500 4200 3\nmore\n"
    assert parse_wrk(stdout) == Run(requests=10000, seconds=5.0, p50_ms=1.5, p99_ms=4.2, errors=3)


def test_parse_wrk_without_the_bench_line_says_so() -> None:
    with pytest.raises(ByocError, match="wrk printed no BENCH line"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_median_cell_takes_each_statistic_median_separately_and_sums_errors() -> None:
    runs = [
        Run(requests=1000, seconds=1.0, p50_ms=1.0, p99_ms=9.0, errors=1),
        Run(requests=3000, seconds=1.0, p50_ms=3.0, p99_ms=2.0, errors=0),
        Run(requests=4000, seconds=2.0, p50_ms=2.0, p99_ms=5.0, errors=2),
    ]
    cell = median_cell("serve", 1, 16, "close", runs, load_1m=4.5)
    assert (cell.requests_per_s, cell.p50_ms, cell.p99_ms, cell.errors, cell.load_1m) == (2000.0, 2.0, 5.0, 3, 4.5)


def test_median_cell_of_no_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no runs for serve"):
        median_cell("serve", 1, 16, "close", [], load_1m=0.0)


def test_table_gives_each_cell_its_multiple_of_gunicorn_and_share_of_the_ceiling_in_the_same_cell() -> None:
    results = [
        _cell("serve", 6000), _cell("gunicorn", 3000), _cell("ceiling", 8000),
        _cell("serve", 900, rows=100), _cell("gunicorn", 600, rows=100), _cell("ceiling", 3000, rows=100),
    ]  # fmt: skip
    lines = markdown_table(results)
    assert lines[0].startswith("| variant | rows | connections | client | req/s |")
    assert "| serve | 1 | 16 | close | 6,000 | 1.00 | 5.00 | 0 | 2.00× | 75% | 3.2 |" in lines
    assert "| serve | 100 | 16 | close | 900 | 1.00 | 5.00 | 0 | 1.50× | 30% | 3.2 |" in lines
    assert "| ceiling | 1 | 16 | close | 8,000 | 1.00 | 5.00 | 0 | 2.67× | 100% | 3.2 |" in lines


def test_table_without_a_baseline_or_ceiling_shows_a_dash() -> None:
    (line,) = markdown_table([_cell("mlflow", 200)])[2:]
    assert line == "| mlflow | 1 | 16 | close | 200 | 1.00 | 5.00 | 0 | - | - | 3.2 |"


def test_summary_compares_serve_with_each_peer_per_cell_with_p99s() -> None:
    results = [_cell("serve", 10000, p99=3.0), _cell("gunicorn", 4000, p99=4.0), _cell("mlflow", 100, p99=90.0)]
    lines = summary(results)
    assert lines[0] == "| rows | connections | client | serve req/s | × gunicorn | × mlflow | p99 serve | p99 gunicorn | p99 mlflow |"
    assert lines[2] == "| 1 | 16 | close | 10,000 | 2.50× | 100.00× | 3.00 | 4.00 | 90.00 |"
    # Columns and separators agree, so the markdown renders as a table.
    assert lines[1].count("|") == lines[0].count("|")
