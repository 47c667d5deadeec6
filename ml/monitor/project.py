"""The monitor of this project: the capture, baselines and thresholds its config and backend name.

``invoke monitor`` calls :func:`run_project_monitor`; so can ``invoke lifecycle`` at its end. On
``local`` the capture is the directory ``<local_state_dir>/<capture_prefix>`` (the local
backend's mirror of the data lake prefix); on ``sagemaker`` it is
``s3://<datalake bucket from Terraform outputs>/<capture_prefix>``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.backends import make_backend
from ml.config import ProjectConfig
from ml.monitor.html import write_html
from ml.monitor.publish import publish_report
from ml.monitor.run import Attribution, MonitorReport, monitor
from ml.monitor.served import ServedBaselines, given_baseline
from ml.monitor.sources import CaptureSource, LocalCapture, S3Capture
from ml.monitor.summary import write_summary
from ml.monitor.table import render_table
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

if TYPE_CHECKING:
    from ml.backends.sagemaker.deployments import Deployment

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


@dataclass(frozen=True, kw_only=True)
class _Where:
    source: CaptureSource
    s3_client: Any = None
    # AWS: the endpoint's deployment history, the only way to tell which config answered a record.
    deployments: Callable[[str], Sequence[Deployment]] | None = None


def _source(config: ProjectConfig, root: Path, backend: str, capture_dir: str) -> _Where:
    if backend != "sagemaker":
        return _Where(source=LocalCapture(root=Path(capture_dir) if capture_dir else local_capture_root(config, root)))
    from ml.backends.sagemaker import deployments
    from ml.backends.sagemaker.clients import make_clients, make_session
    from ml.tfstate import read_stack_outputs

    clients = make_clients(make_session(config))
    history = functools.partial(deployments.history_of, clients.sagemaker)
    if capture_dir:
        return _Where(source=LocalCapture(root=Path(capture_dir)), s3_client=clients.s3, deployments=history)
    outputs = read_stack_outputs(config, root=root, s3_client=clients.s3 if config.state_backend == "s3" else None)
    source = S3Capture(client=clients.s3, bucket=outputs.datalake_bucket, prefix=config.capture_prefix)
    return _Where(source=source, s3_client=clients.s3, deployments=history)


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
    earlier_endpoints: bool = False,
) -> MonitorOutcome:
    """Monitor ``endpoint`` (default: the project's) over ``window``; write the HTML report.

    Each record is compared with the baseline of the version that answered it, and only the
    current endpoint's records count unless ``earlier_endpoints``. ``baseline`` (a ``baseline/``
    folder or a model.tar.gz) replaces every version's: to compare traffic with a candidate's
    training data. Raises the project's errors for an empty window, a malformed capture line or a
    missing baseline; a breach is not an error but :attr:`MonitorOutcome.breached`.
    """
    name = endpoint or config.endpoint_name
    where = _source(config, root, backend, capture_dir)
    attribution: Attribution = (
        given_baseline(baseline)
        if baseline
        else ServedBaselines(
            backend=make_backend(backend, config=config, root=root),
            endpoint=name,
            s3_client=where.s3_client,
            earlier_endpoints=earlier_endpoints,
            deployments=functools.partial(where.deployments, name) if where.deployments else None,
        )
    )
    result = monitor(source=where.source, endpoint=name, window=window, attribution=attribution, thresholds=Thresholds.from_config(config))
    html = write_html(result, Path(report) if report else report_path(config, root, endpoint=name, window=window))
    summary = write_summary(result, html=html)  # what the console's monitor page lists
    published = ""
    if isinstance(where.source, S3Capture):
        published = publish_report(s3_client=where.source.client, bucket=where.source.bucket, endpoint=name, html=html)
        publish_report(s3_client=where.source.client, bucket=where.source.bucket, endpoint=name, html=summary)
    return MonitorOutcome(report=result, table=render_table(result), html=html, published=published)
