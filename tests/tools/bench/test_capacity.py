"""The capacity bench: wrk's numbers parsed, steps checked, the zero-error limit, and one tiny real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.errors import ByocError, UserInputError
from tools.bench.capacity import Step, check_steps, parse, render, run_capacity_bench, zero_error_limit

REPO = Path(__file__).resolve().parents[3]


def _step(clients: int, client: str, socket_errors: int, non_2xx: int = 0) -> Step:
    return Step(
        clients=clients,
        client=client,
        requests=1000,
        seconds=2.0,
        p50_ms=1,
        p99_ms=2,
        socket_errors=socket_errors,
        non_2xx=non_2xx,
        load_1m=1,
    )


def test_wrk_line_is_split_into_socket_errors_and_non_2xx() -> None:
    step = parse("Running 5s test\nCAPACITY 25000 5000000 1200 9800 1 2 3 4 77\n", clients=256, client="close", load_1m=2.5)
    assert (step.requests, step.seconds, step.p50_ms, step.p99_ms) == (25000, 5.0, 1.2, 9.8)
    assert (step.socket_errors, step.non_2xx, step.per_s) == (10, 77, 5000)


def test_no_wrk_line_is_a_clear_error() -> None:
    with pytest.raises(ByocError, match="no CAPACITY line"):
        parse("unable to connect to 127.0.0.1:1 Connection refused\n", clients=1, client="close", load_1m=0)


@pytest.mark.parametrize("steps", [(), (256, 64), (64, 64), (0, 10), (10, 10_000_000)])
def test_client_counts_must_rise_and_fit_the_file_limit(steps: tuple[int, ...]) -> None:
    with pytest.raises(UserInputError, match="client|open files"):
        check_steps(steps)


def test_the_limit_is_the_last_clean_step_below_the_first_with_socket_errors() -> None:
    results = [
        _step(64, "keep-alive", 0),
        _step(1000, "keep-alive", 0, non_2xx=40),
        _step(2000, "keep-alive", 9),
        _step(4000, "keep-alive", 0),
    ]
    results += [_step(64, "close", 3)]
    assert zero_error_limit(results, "keep-alive") == 1000  # 503s are answers; 4000's luck after a failure does not count
    assert zero_error_limit(results, "close") == 0
    assert "Most keep-alive clients with zero socket errors: 1,000." in render(results, duration_s=2, instances=2)


@pytest.mark.slow
def test_a_tiny_capacity_run_through_a_real_endpoint(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "iris.csv").write_text((REPO / "data" / "iris.csv").read_text())
    (root / "cdktf.json").write_text((REPO / "cdktf.json").read_text())
    table = run_capacity_bench(root=root, steps=(8, 64), duration_s=1)
    assert (root / "docs" / "benchmarks" / "capacity.md").read_text() == table
    rows = [line for line in table.splitlines() if line.startswith(("| 8 |", "| 64 |"))]
    assert len(rows) == 4 and all(line.split("|")[6].strip() == "0" for line in rows), table  # no socket error
    assert "Most keep-alive clients with zero socket errors: 64." in table
