"""The monitor's HTML report: one self-contained file, plots embedded as base64 PNG."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.monitor.plots import class_plot, feature_plot
from ml.monitor.run import MonitorReport
from ml.monitor.table import number, scope_lines, thresholds_text, verdict_text, version_lines

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}.breach{color:#b00}"
)


def _image(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _row(cells: list[str], css: str = "") -> str:
    return f"<tr class='{css}'>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def render_html(report: MonitorReport) -> str:
    title = f"Monitor {escape(report.endpoint)}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Monitor: {escape(report.endpoint)}</h1>",
        f"<p>Window {escape(report.window.describe())}, capture {escape(report.source)}.</p>",
        f"<p>Thresholds: {thresholds_text(report, '&gt;')}.</p>",
    ]
    parts += [f"<p>{escape(line)}</p>" for line in scope_lines(report)]
    parts.append(f"<h2 class='{'breach' if report.breaches else 'ok'}'>Verdict: {escape(verdict_text(report))}</h2><ul>")
    parts += [f"<li class='breach'>{escape(b)}</li>" for b in report.breaches]
    parts.append("</ul>")
    for result in report.variants:
        head, *rest = version_lines(result, report.thresholds.min_rows)
        parts.append(f"<h2>Variant {escape(result.variant)}, version {result.version or 'given (--baseline)'}</h2>")
        parts += [f"<p>{escape(line.strip())}</p>" for line in [head, *rest]]
        parts.append("<table><tr><th>feature</th><th>values</th><th>missing %</th><th>out of range %</th><th>PSI</th><th>status</th></tr>")
        for f in result.features:
            status = "; ".join(f.breaches) or "ok"
            cells = [escape(f.name), str(f.values), number(f.missing_percent, 2), number(f.range_percent, 2), number(f.psi), escape(status)]
            parts.append(_row(cells, "breach" if f.breaches else "ok"))
        parts.append("</table><h3>Predicted classes</h3><table><tr><th>class</th><th>training %</th><th>predicted %</th></tr>")
        c = result.classes
        for name in sorted(set(c.training) | set(c.predicted)):
            parts.append(_row([escape(name), number(100 * c.training.get(name, 0.0), 1), number(100 * c.predicted.get(name, 0.0), 1)]))
        parts.append(f"</table><p>Class PSI {number(c.psi)} ({'breach' if c.breached else 'ok'}).</p>")
        parts.append(_image(class_plot(c), f"{result.variant} predicted classes"))
        parts += [_image(feature_plot(f), f"{result.variant} {f.name}") for f in result.features]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(report: MonitorReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_html(report))
    return path
