"""The monitor's result as a plain-text table, one row per feature and one for the classes."""

from __future__ import annotations

import math

from ml.monitor.run import MonitorReport
from ml.monitor.verdict import VariantResult


def number(value: float, digits: int = 3) -> str:
    """One formatting of every number, so the table and the HTML show the same text."""
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def thresholds_text(report: MonitorReport, gt: str = ">") -> str:
    t = report.thresholds
    return (
        f"PSI {gt} {t.drift_psi:g}, missing {gt} {t.missing_percent:g}%, "
        f"out of range {gt} {t.range_percent:g}%, class PSI {gt} {t.class_psi:g}; at least {t.min_rows} rows to judge"
    )


def scope_lines(report: MonitorReport) -> list[str]:
    """What the run counted and what it left out: earlier endpoints' records, unattributed ones."""
    lines = []
    if report.lifetime_start is not None:
        lines.append(
            f"counted: the current endpoint's records, since it was created at {report.lifetime_start:%Y-%m-%dT%H:%M:%SZ}"
            + (
                f" ({report.earlier_records} records of earlier endpoints of this name left out; --earlier-endpoints counts them)"
                if report.earlier_records
                else ""
            )
        )
    lines += [f"not compared: {u.records} {u.variant} records {u.reason}" for u in report.unattributed]
    return lines


def version_lines(result: VariantResult, min_rows: int) -> list[str]:
    """The head of one version's section: its traffic, its errors, whether it had enough rows to judge."""
    lines = [
        f"{result.variant}: version {result.version or 'given (--baseline)'}, {result.records} records, "
        f"{result.error_records} answered with an error ({number(result.error_percent, 2)}% error rate), "
        f"{result.rows} rows compared",
        f"  baseline {result.baseline}",
    ]
    if not result.sufficient:
        lines.append(
            f"  INSUFFICIENT DATA: {result.rows} rows compared, fewer than monitor_min_rows ({min_rows}); "
            "no threshold is judged on so few rows"
        )
    if result.ragged_rows or result.unanswered_rows:
        lines.append(f"  {result.ragged_rows} rows with extra cells, {result.unanswered_rows} rows whose answer was not captured")
    return lines


def verdict_text(report: MonitorReport) -> str:
    if report.verdict == "BREACH":
        return f"BREACH ({len(report.breaches)})"
    if report.verdict == "OK":
        return "OK: within every threshold"
    return (
        f"INSUFFICIENT DATA: no version had monitor_min_rows ({report.thresholds.min_rows}) rows to compare; "
        "nothing is judged (send more traffic or widen the window)"
    )


def render_table(report: MonitorReport) -> str:
    lines = [f"monitor {report.endpoint}  {report.window.describe()}  ({report.source})", f"thresholds: {thresholds_text(report)}"]
    lines += scope_lines(report)
    header = f"{'variant':<12} {'version':>7} {'feature':<10} {'values':>10} {'missing%':>9} {'range%':>8} {'PSI':>7}  status"
    for result in report.variants:
        lines += ["", *version_lines(result, report.thresholds.min_rows)]
        lines.append(header)
        for f in result.features:
            status = "BREACH: " + "; ".join(f.breaches) if f.breaches else "ok"
            lines.append(
                f"{result.variant:<12} {result.version or 'given':>7} {f.name:<10} {f.values:>10} {number(f.missing_percent, 2):>9} "
                f"{number(f.range_percent, 2):>8} {number(f.psi):>7}  {status}"
            )
        c = result.classes
        shares = ", ".join(f"{k} {number(100 * c.predicted.get(k, 0.0), 1)}% (train {number(100 * v, 1)}%)" for k, v in c.training.items())
        unseen = f"; never in training: {', '.join(c.unseen)}" if c.unseen else ""
        lines.append(f"{'':<12} {'':>7} {'classes':<10} PSI {number(c.psi)}  {'BREACH' if c.breached else 'ok'}  {shares}{unseen}")
    lines += ["", f"verdict: {verdict_text(report)}"]
    return "\n".join(lines) + "\n"
