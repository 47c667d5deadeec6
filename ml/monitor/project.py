"""The monitor of this project: the capture, baselines and thresholds its config and backend name.

``invoke monitor`` calls :func:`run_project_monitor`; so can ``invoke lifecycle`` at its end. On
``local`` the capture is the directory ``<local_state_dir>/<capture_prefix>`` (the local
backend's mirror of the data lake prefix); on ``sagemaker`` it is
``s3://<datalake bucket from Terraform outputs>/<capture_prefix>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends import make_backend
from ml.config import ProjectConfig
from ml.monitor.html import write_html
from ml.monitor.publish import publish_report
from ml.monitor.run import MonitorReport, monitor
from ml.monitor.served import ServedBaselines, given_baseline
from ml.monitor.sources import CaptureSource, LocalCapture, S3Capture
from ml.monitor.summary import write_summary
from ml.monitor.table import render_table
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

REPORTS_DIR = "reports"
BREACH_EXIT_CODE = 3  # distinct from 1 (an error): a pipeline can tell "drifted" from "broken"


def local_capture_root(config: ProjectConfig, root: Path) -> Path:
    return root / config.local_state_dir / config.capture_prefix


def report_path(config: ProjectConfig, root: Path, *, endpoint: str, window: Window) -> Path:
    return root / config.local_state_dir / REPORTS_DIR / f"monitor-{endpoint}-{window.until:%Y%m%dT%H%M%SZ}.html"


@dataclass(frozen=True, kw_only=True)
class MonitorOutcome:
    report: MonitorReport
    table: str
    html: Path
    published: str = ""  # sagemaker: the report's s3:// URI in the data lake

    @property
    def breached(self) -> bool:
        return bool(self.report.breaches)


def _source(config: ProjectConfig, root: Path, backend: str, capture_dir: str) -> tuple[CaptureSource, Any]:
    if capture_dir:
        return LocalCapture(root=Path(capture_dir)), None
    if backend != "sagemaker":
        return LocalCapture(root=local_capture_root(config, root)), None
    from ml.backends.sagemaker.clients import make_clients, make_session
    from ml.tfstate import read_stack_outputs

    s3 = make_clients(make_session(config)).s3
    outputs = read_stack_outputs(config, root=root, s3_client=s3 if config.state_backend == "s3" else None)
    return S3Capture(client=s3, bucket=outputs.datalake_bucket, prefix=config.capture_prefix), s3


def run_project_monitor(
    *,
    config: ProjectConfig,
    root: Path,
    backend: str,
    window: Window,
    endpoint: str = "",
    capture_dir: str = "",
    report: str = "",
    baseline: str = "",
) -> MonitorOutcome:
    """Monitor ``endpoint`` (default: the project's) over ``window``; write the HTML report.

    ``baseline`` (a ``baseline/`` folder or a model.tar.gz) replaces the served version's: to
    compare a window from before the last update, or traffic with a candidate's training data.
    Raises the project's errors for an empty window, a malformed capture line or a missing
    baseline; a breach is not an error but :attr:`MonitorOutcome.breached`.
    """
    name = endpoint or config.endpoint_name
    source, s3_client = _source(config, root, backend, capture_dir)
    found = (
        given_baseline(baseline)
        if baseline
        else ServedBaselines(backend=make_backend(backend, config=config, root=root), endpoint=name, s3_client=s3_client)
    )
    result = monitor(source=source, endpoint=name, window=window, find_baseline=found, thresholds=Thresholds.from_config(config))
    html = write_html(result, Path(report) if report else report_path(config, root, endpoint=name, window=window))
    summary = write_summary(result, html=html)  # what the console's monitor page lists
    published = ""
    if isinstance(source, S3Capture):
        published = publish_report(s3_client=source.client, bucket=source.bucket, endpoint=name, html=html)
        publish_report(s3_client=source.client, bucket=source.bucket, endpoint=name, html=summary)
    return MonitorOutcome(report=result, table=render_table(result), html=html, published=published)
