"""A monitor run in a few fields, written beside its HTML report so runs can be listed later.

``<report>.json`` next to ``<report>.html`` (and beside it in the data lake on AWS): the
endpoint, the window, the verdict and the breaches. The web console's monitor page lists runs
from these files alone, without parsing HTML or keeping an index of its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_json
from ml.monitor.run import MonitorReport

SUMMARY_SUFFIX = ".json"


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    endpoint: str
    since: str  # ISO 8601 UTC
    until: str
    verdict: str  # OK or BREACH
    breaches: tuple[str, ...]
    report: str  # the HTML report's file name, beside this summary
    variants: tuple[str, ...] = ()  # "variant v<version>: <records> records"

    @classmethod
    def of(cls, report: MonitorReport, *, html: Path) -> RunSummary:
        return cls(
            endpoint=report.endpoint,
            since=report.window.since.isoformat(),
            until=report.window.until.isoformat(),
            verdict="BREACH" if report.breaches else "OK",
            breaches=tuple(report.breaches),
            report=html.name,
            variants=tuple(f"{v.variant} v{v.version}: {v.records} records" for v in report.variants),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        return cls(
            endpoint=str(data.get("endpoint", "")),
            since=str(data.get("since", "")),
            until=str(data.get("until", "")),
            verdict=str(data.get("verdict", "")),
            breaches=tuple(str(b) for b in data.get("breaches", ())),
            report=str(data.get("report", "")),
            variants=tuple(str(v) for v in data.get("variants", ())),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def write_summary(report: MonitorReport, *, html: Path) -> Path:
    path = html.with_suffix(SUMMARY_SUFFIX)
    atomic_write_json(path, asdict(RunSummary.of(report, html=html)))
    return path
