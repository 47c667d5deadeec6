"""One monitor run: stream a window of captured records through the counters of the version that answered each.

Each record is attributed to the model version that answered it (:class:`Attribution`): locally
the record names the variant that answered; on AWS the endpoint's deployment history says which
endpoint config was in force at the record's time (:mod:`ml.monitor.served`). A record no version
can be named for is counted apart, with the reason, and compared with nothing. Records from before
the current endpoint was created belong to an earlier endpoint of the same name and are left out
unless the run asks for them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ml.errors import UserInputError
from ml.monitor.baseline import Baseline
from ml.monitor.capture import CapturedRecord, parse_line
from ml.monitor.sources import CaptureSource
from ml.monitor.stats import VariantStats
from ml.monitor.verdict import Thresholds, VariantResult, judge
from ml.monitor.window import Window

Verdict = Literal["OK", "BREACH", "INSUFFICIENT DATA"]


class EmptyWindowError(UserInputError):
    """No captured record of the endpoint falls in the window."""


@dataclass(frozen=True, kw_only=True)
class Attributed:
    """The version that answered a record, or why it cannot be named (``version`` None)."""

    version: int | None
    reason: str = ""


class Attribution(Protocol):
    """Which model version answered each captured record, and each version's baseline."""

    def lifetime_start(self) -> datetime | None:
        """When the current endpoint was created; earlier records belong to an earlier endpoint of
        the name. None: every record of the window counts."""
        ...

    def version_of(self, variant: str, record: CapturedRecord) -> Attributed: ...

    def baseline(self, version: int) -> Baseline: ...


@dataclass(frozen=True, kw_only=True)
class Unattributed:
    variant: str
    reason: str
    records: int


@dataclass(frozen=True, kw_only=True)
class MonitorReport:
    endpoint: str
    source: str
    window: Window
    thresholds: Thresholds
    variants: tuple[VariantResult, ...]  # one per (variant, version that answered)
    unattributed: tuple[Unattributed, ...] = ()
    earlier_records: int = 0  # records of earlier endpoints of the name, left out
    lifetime_start: datetime | None = None

    @property
    def breaches(self) -> list[str]:
        return [b for v in self.variants for b in v.breaches]

    @property
    def verdict(self) -> Verdict:
        """BREACH on any breach of a version with enough rows; OK when at least one had enough and
        none breached; otherwise nothing can be said: INSUFFICIENT DATA."""
        if self.breaches:
            return "BREACH"
        return "OK" if any(v.sufficient for v in self.variants) else "INSUFFICIENT DATA"


@dataclass(kw_only=True)
class _Tally:
    stats: dict[tuple[str, int], VariantStats]
    unattributed: Counter[tuple[str, str]]
    earlier: int = 0


def _read_variant(source: CaptureSource, endpoint: str, variant: str, *, window: Window, attribution: Attribution, tally: _Tally) -> None:
    start = attribution.lifetime_start()
    for capture in source.files(endpoint, variant, window):
        for number, line in enumerate(capture.lines, start=1):
            if not line.strip():
                continue
            record = parse_line(line, where=f"{capture.name}:{number}")
            if record.time not in window:
                continue
            if start is not None and record.time < start:
                tally.earlier += 1
                continue
            answered = attribution.version_of(variant, record)
            if answered.version is None:
                tally.unattributed[(variant, answered.reason)] += 1
                continue
            key = (variant, answered.version)
            if key not in tally.stats:
                # Baselines are read once a version has traffic in the window: one with none needs none.
                tally.stats[key] = VariantStats(variant=variant, version=answered.version, baseline=attribution.baseline(answered.version))
            tally.stats[key].add(record.rows, record.predictions, error=record.error)


def monitor(*, source: CaptureSource, endpoint: str, window: Window, attribution: Attribution, thresholds: Thresholds) -> MonitorReport:
    """Compare the captured traffic in ``window`` of each version that answered with that version's baseline."""
    tally = _Tally(stats={}, unattributed=Counter())
    for variant in source.variants(endpoint):
        _read_variant(source, endpoint, variant, window=window, attribution=attribution, tally=tally)
    start = attribution.lifetime_start()
    if not tally.stats and not tally.unattributed:
        earlier = (
            f"; {tally.earlier} record(s) in the window came from earlier endpoints of this name (before {start:%Y-%m-%dT%H:%M:%SZ}), "
            "which --earlier-endpoints counts"
            if tally.earlier and start is not None
            else ""
        )
        raise EmptyWindowError(
            f"no captured records of endpoint {endpoint} from {window.describe()} under {source.describe()}{earlier}; "
            "widen the window (--hours, --since/--until), check --endpoint, "
            "and check that capture_enabled is true and the endpoint had traffic"
        )
    return MonitorReport(
        endpoint=endpoint,
        source=source.describe(),
        window=window,
        thresholds=thresholds,
        variants=tuple(judge(tally.stats[key], thresholds) for key in sorted(tally.stats)),
        unattributed=tuple(Unattributed(variant=v, reason=r, records=n) for (v, r), n in sorted(tally.unattributed.items())),
        earlier_records=tally.earlier,
        lifetime_start=start,
    )
