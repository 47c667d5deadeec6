"""The monitor's result as a plain-text table, one row per feature and one for the classes."""

from __future__ import annotations

import math

from ml.monitor.run import MonitorReport


def number(value: float, digits: int = 3) -> str:
    """One formatting of every number, so the table and the HTML show the same text."""
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def thresholds_text(report: MonitorReport, gt: str = ">") -> str:
    t = report.thresholds
    return (
        f"PSI {gt} {t.drift_psi:g}, missing {gt} {t.missing_percent:g}%, "
        f"out of range {gt} {t.range_percent:g}%, class PSI {gt} {t.class_psi:g}"
    )


def render_table(report: MonitorReport) -> str:
    lines = [f"monitor {report.endpoint}  {report.window.describe()}  ({report.source})", f"thresholds: {thresholds_text(report)}"]
    header = f"{'variant':<12} {'version':>7} {'feature':<10} {'values':>10} {'missing%':>9} {'range%':>8} {'PSI':>7}  status"
    for result in report.variants:
        lines += [
            "",
            f"{result.variant}: version {result.version or 'given (--baseline)'}, {result.records} records, {result.rows} rows",
            f"  baseline {result.baseline}",
        ]
        if result.ragged_rows or result.unanswered_rows:
            lines.append(f"  {result.ragged_rows} rows with extra cells, {result.unanswered_rows} rows without a prediction")
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
    verdict = f"BREACH ({len(report.breaches)})" if report.breaches else "OK: within every threshold"
    lines += ["", f"verdict: {verdict}"]
    return "\n".join(lines) + "\n"
