"""What an approver sees locally: the candidate's report, and its metrics beside the serving version's.

``invoke approve`` and ``invoke pipeline``'s approval prompt both print :func:`review`'s lines
before the decision, so nobody approves a number without the one it would replace.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml.backends.local.backend import LocalBackend
from ml.backends.records import ModelVersion
from ml.errors import ByocError, NotFoundError
from ml.reports.folder import ReportFiles
from ml.reports.local import serving_version, write_local_report


@dataclass(frozen=True, kw_only=True)
class Review:
    candidate: ModelVersion
    serving: ModelVersion | None
    report: ReportFiles | None
    problem: str = ""  # why no report could be written (the metrics are still compared)

    def lines(self) -> list[str]:
        """The comparison as aligned text: one row per metric, candidate first, then serving."""
        c, s = self.candidate, self.serving
        names = sorted(set(c.metrics) | set(s.metrics if s else {}))
        width = max((len(n) for n in names), default=6)
        head = f"  {'metric'.ljust(width)}  candidate v{c.version}" + (f"  serving v{s.version}" if s else "  (nothing serving yet)")
        rows = [head]
        for name in names:
            mine = f"{c.metrics[name]:.4f}" if name in c.metrics else "-"
            theirs = (f"{s.metrics[name]:.4f}" if name in s.metrics else "-") if s else ""
            rows.append(f"  {name.ljust(width)}  {mine.ljust(len('candidate v') + len(str(c.version)))}  {theirs}".rstrip())
        rows.append(f"  report: {self.report.index}" if self.report else f"  no report: {self.problem}")
        return rows


def review(backend: LocalBackend, *, version: int) -> Review:
    """Write ``version``'s report beside the version serving the configured endpoint, if any."""
    candidate = backend.registry.get(version)  # a NotFoundError names the registered versions
    try:
        serving_number: int | None = backend.describe_endpoint(endpoint_name=backend.config.endpoint_name).version
    except NotFoundError:
        serving_number = None
    serving = serving_version(backend.list_versions(), serving_number)
    try:
        report = write_local_report(state=backend.layout.state, candidate=candidate, serving=serving)
    except ByocError as err:
        # A missing artifact or data file must not hide the registered metrics from the approver;
        # the deploy refuses such a version on its own (the artifact check in unpack_model).
        return Review(candidate=candidate, serving=serving, report=None, problem=str(err))
    return Review(candidate=candidate, serving=serving, report=report)
