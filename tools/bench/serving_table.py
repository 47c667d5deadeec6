"""The serving bench's numbers: one wrk run parsed, a cell's median over rounds, the markdown table.

Kept apart from :mod:`tools.bench.serving` (which starts servers and runs wrk) so the arithmetic and
the rendering can be tested without a server.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ml.errors import ByocError

# What the bench's wrk script prints when a run ends: requests, duration µs, p50 µs, p99 µs, errors.
_RESULT = re.compile(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+)$", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Run:
    """One wrk run against one server."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One cell: a variant at a payload size, concurrency and client kind, the median of its runs."""

    variant: str
    rows: int
    connections: int
    client: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    load_1m: float


def parse_wrk(stdout: str) -> Run:
    """The ``BENCH`` line of the bench's wrk script; a clear error when wrk printed none."""
    match = _RESULT.search(stdout)
    if match is None:
        raise ByocError(f"wrk printed no BENCH line (did the server answer?): {stdout[-300:]!r}")
    requests, duration_us, p50_us, p99_us, errors = (int(g) for g in match.groups())
    if duration_us <= 0:
        raise ByocError(f"wrk reported a run of {duration_us} µs")
    return Run(requests=requests, seconds=duration_us / 1e6, p50_ms=p50_us / 1e3, p99_ms=p99_us / 1e3, errors=errors)


def median_cell(variant: str, rows: int, connections: int, client: str, runs: Sequence[Run], *, load_1m: float) -> Measurement:
    """Each statistic's median over the rounds (separately: the run with the median rate need not have the median p99)."""
    if not runs:
        raise ValueError(f"no runs for {variant} {rows} rows {connections} connections {client}")
    return Measurement(
        variant=variant, rows=rows, connections=connections, client=client,
        requests_per_s=statistics.median(run.requests / run.seconds for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs), p99_ms=statistics.median(run.p99_ms for run in runs),
        errors=sum(run.errors for run in runs), load_1m=load_1m,
    )  # fmt: skip


def _ratio(value: float, other: float | None) -> str:
    return f"{value / other:.2f}×" if other else "-"


def markdown_table(results: Sequence[Measurement], *, baseline: str = "gunicorn", ceiling: str = "ceiling") -> list[str]:
    """One line per cell, with its rate as a multiple of ``baseline``'s and a share of ``ceiling``'s in the same cell."""
    rate = {(m.variant, m.rows, m.connections, m.client): m.requests_per_s for m in results}
    lines = [
        f"| variant | rows | connections | client | req/s | p50 ms | p99 ms | errors | × {baseline} | % of {ceiling} | load |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        cell = (m.rows, m.connections, m.client)
        top = rate.get((ceiling, *cell))
        share = f"{100 * m.requests_per_s / top:.0f}%" if top else "-"
        numbers = f"{m.requests_per_s:,.0f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | {m.errors}"
        versus = _ratio(m.requests_per_s, rate.get((baseline, *cell)))
        lines.append(f"| {m.variant} | {m.rows} | {m.connections} | {m.client} | {numbers} | {versus} | {share} | {m.load_1m:.1f} |")
    return lines


def summary(
    results: Sequence[Measurement], *, subject: str = "serve", against: Sequence[str] = ("gunicorn", "mlflow", "sample")
) -> list[str]:
    """Per cell: ``subject``'s rate as a multiple of each other variant's, and its p99 next to theirs."""
    by_cell: dict[tuple[int, int, str], dict[str, Measurement]] = {}
    for m in results:
        by_cell.setdefault((m.rows, m.connections, m.client), {})[m.variant] = m
    others = [name for name in against if any(name in cells for cells in by_cell.values())]
    header = f"| rows | connections | client | {subject} req/s | " + " | ".join(f"× {o}" for o in others)
    header += f" | p99 {subject} | " + " | ".join(f"p99 {o}" for o in others) + " |"
    lines = [header, "|" + "---:|" * 2 + "---|" + "---:|" * (2 + 2 * len(others))]
    for (rows, connections, client), cells in by_cell.items():
        mine = cells.get(subject)
        if mine is None:
            continue
        ratios = " | ".join(_ratio(mine.requests_per_s, cells[o].requests_per_s if o in cells else None) for o in others)
        p99s = " | ".join(f"{cells[o].p99_ms:.2f}" if o in cells else "-" for o in others)
        lines.append(f"| {rows} | {connections} | {client} | {mine.requests_per_s:,.0f} | {ratios} | {mine.p99_ms:.2f} | {p99s} |")
    return lines
