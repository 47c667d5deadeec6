"""``run_serving_bench`` end to end, shortened: one cell per variant, one second each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.errors import UserInputError
from tools.bench.serving import run_serving_bench

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_bench_measures_serve_gunicorn_and_ceiling_with_both_clients_and_writes_the_table(tmp_path: Path) -> None:
    output = tmp_path / "serving.md"
    variants = ("serve", "gunicorn", "ceiling")
    result = run_serving_bench(root=REPO, duration_s=1, repeats=1, rows=(100,), connections=(2,), variants=variants, output=output)
    cells = {(r["variant"], r["rows"], r["connections"], r["client"]): r for r in result["results"]}
    assert set(cells) == {(v, 100, 2, client) for v in variants for client in ("keep-alive", "close")}
    for cell in cells.values():
        assert cell["requests_per_s"] > 0
        assert cell["errors"] == 0
        assert 0 < cell["p50_ms"] <= cell["p99_ms"]
        assert cell["load_1m"] >= 0
    # Workers hold the model and the interpreter: some MB each, as a positive proportional share.
    assert set(result["memory_mb"]) == set(variants)
    assert all(mb > 1 for mb in result["memory_mb"].values())
    table = output.read_text()
    assert table == result["markdown"]
    for variant in variants:
        assert f"| {variant} | 100 | 2 | keep-alive |" in table
        assert f"| {variant} | 100 | 2 | close |" in table


def test_unknown_variant_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="unknown serving bench variant 'tornado'"):
        run_serving_bench(root=REPO, variants=("tornado",), output=tmp_path / "x.md")


def test_unknown_client_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="unknown serving bench client 'pipelined'"):
        run_serving_bench(root=REPO, clients=("pipelined",), output=tmp_path / "x.md")


def test_no_rounds_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="at least 1 round"):
        run_serving_bench(root=REPO, repeats=0, output=tmp_path / "x.md")
