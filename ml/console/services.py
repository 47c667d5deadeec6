"""What the pages call: the backend, the report source, the monitor, each built once per worker.

These hold clients and paths, never data: every page reads versions, endpoints and runs afresh,
so two consoles, or a console and a terminal, always show the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from ml.backends import make_backend
from ml.backends.base import Backend
from ml.backends.rollout_journal import JournalPage, journal_path, read_journal
from ml.console.settings import ConsoleSettings
from ml.console.sources import DataLakeReports, LocalReports, ReportSource
from ml.monitor.project import MonitorOutcome, run_project_monitor
from ml.monitor.window import window_from

EXTENSION = "byoc_console"
MonitorRunner = Callable[[float, str], MonitorOutcome]


@dataclass(kw_only=True)
class Services:
    settings: ConsoleSettings
    backend_factory: Callable[[], Backend]
    reports_factory: Callable[[], ReportSource]
    run_monitor: MonitorRunner
    _backend: Backend | None = field(default=None, init=False)
    _reports: ReportSource | None = field(default=None, init=False)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.backend_factory()
        return self._backend

    @property
    def reports(self) -> ReportSource:
        if self._reports is None:
            self._reports = self.reports_factory()
        return self._reports

    @property
    def state_dir(self) -> Path:
        return self.settings.root / self.settings.config.local_state_dir

    def endpoint_names(self) -> list[str]:
        """The endpoints this project deploys: today the configured one (stages add theirs here)."""
        return [self.settings.config.endpoint_name]

    def rollout(self, endpoint: str, *, update: str = "", after: int = 0) -> JournalPage:
        path = journal_path(state_dir=self.state_dir, backend=self.settings.backend, endpoint=endpoint)
        return read_journal(path, update=update, after=after)


def default_services(settings: ConsoleSettings) -> Services:
    config, root = settings.config, settings.root

    def backend() -> Backend:
        return make_backend(settings.backend, config=config, root=root)

    def reports() -> ReportSource:
        if settings.backend == "local":
            return LocalReports(folder=root / config.local_state_dir / "reports")
        from ml.backends.sagemaker.aws_errors import aws_call
        from ml.backends.sagemaker.clients import make_clients, make_session
        from ml.tfstate import read_stack_outputs

        s3 = make_clients(make_session(config)).s3
        with aws_call(service="s3", action="reading Terraform state"):
            outputs = read_stack_outputs(config, root=root, s3_client=s3 if config.state_backend == "s3" else None)
        return DataLakeReports(s3=s3, bucket=outputs.datalake_bucket)

    def monitor(hours: float, endpoint: str) -> MonitorOutcome:
        window = window_from(hours=hours, default_hours=config.monitor_window_hours)
        return run_project_monitor(config=config, root=root, backend=settings.backend, window=window, endpoint=endpoint)

    return Services(settings=settings, backend_factory=backend, reports_factory=reports, run_monitor=monitor)


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION]
    return found
