"""The table and the HTML report show the computed numbers; every embedded image decodes."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor_fixtures import ENDPOINT, values_lines, write_baseline, write_capture
from PIL import Image

from ml.monitor.html import write_html
from ml.monitor.run import MonitorReport, monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.table import render_table
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
LIMITS = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2)


def _report(tmp_path: Path) -> MonitorReport:
    values: list[float | str] = [8.5] * 45 + [9.5] * 45 + [-2.0] * 10
    write_capture(tmp_path / "capture", values_lines(values, ["a"] * 80 + ["b"] * 20, at=AT), at=AT)
    return monitor(
        source=LocalCapture(root=tmp_path / "capture"),
        endpoint=ENDPOINT,
        window=Window(since=AT - timedelta(hours=1), until=AT + timedelta(hours=1)),
        attribution=given_baseline(str(write_baseline(tmp_path / "baseline"))),
        thresholds=LIMITS,
    )


def test_the_html_report_holds_the_numbers_and_decodable_plots(tmp_path: Path) -> None:
    report = _report(tmp_path)
    feature, classes = report.variants[0].features[0], report.variants[0].classes
    html = write_html(report, tmp_path / "out" / "monitor.html").read_text(encoding="utf-8")
    cells = re.findall(r"<td>([^<]*)</td>", html)
    assert ["_c0", "100", "0.00", "10.00", f"{feature.psi:.3f}"] == cells[:5]
    assert f"Class PSI {classes.psi:.3f} (breach)" in html
    assert cells[6:12] == ["a", "50.0", "80.0", "b", "50.0", "20.0"]
    assert "Verdict: BREACH (3)" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2  # the classes and the one feature
    for encoded in images:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            image.load()
            assert image.format == "PNG" and image.size[0] > 100


def test_the_table_has_a_row_per_feature_and_the_verdict(tmp_path: Path) -> None:
    report = _report(tmp_path)
    table = render_table(report)
    psi = report.variants[0].features[0].psi
    assert re.search(
        rf"AllTraffic\s+given\s+_c0\s+100\s+0.00\s+10.00\s+{psi:.3f}  BREACH: out of range 10.00% > 5%; PSI {psi:.3f} > 0.2", table
    )
    assert "classes    PSI" in table and "BREACH  a 80.0% (train 50.0%), b 20.0% (train 50.0%)" in table
    assert table.endswith("verdict: BREACH (3)\n")
