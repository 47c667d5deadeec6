"""One monitor run: stream a window of captured records through each variant's counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ml.errors import UserInputError
from ml.monitor.baseline import Baseline
from ml.monitor.capture import parse_line
from ml.monitor.sources import CaptureSource
from ml.monitor.stats import VariantStats
from ml.monitor.verdict import Thresholds, VariantResult, judge
from ml.monitor.window import Window

# variant name -> (model version, that version's baseline)
BaselineFinder = Callable[[str], tuple[int, Baseline]]


class EmptyWindowError(UserInputError):
    """No captured record falls in the window."""


@dataclass(frozen=True, kw_only=True)
class MonitorReport:
    endpoint: str
    source: str
    window: Window
    thresholds: Thresholds
    variants: tuple[VariantResult, ...]

    @property
    def breaches(self) -> list[str]:
        return [b for v in self.variants for b in v.breaches]


def _read_variant(source: CaptureSource, endpoint: str, variant: str, window: Window, find: BaselineFinder) -> VariantStats | None:
    stats: VariantStats | None = None
    for capture in source.files(endpoint, variant, window):
        for number, line in enumerate(capture.lines, start=1):
            if not line.strip():
                continue
            record = parse_line(line, where=f"{capture.name}:{number}")
            if record.time not in window:
                continue
            if stats is None:
                # The baseline is looked up once the variant has traffic in the window, so a
                # variant with none needs no model version at all.
                version, baseline = find(variant)
                stats = VariantStats(variant=variant, version=version, baseline=baseline)
            stats.add(record.rows, record.predictions)
    return stats


def monitor(
    *, source: CaptureSource, endpoint: str, window: Window, find_baseline: BaselineFinder, thresholds: Thresholds
) -> MonitorReport:
    """Compare every variant's captured traffic in ``window`` with its version's baseline."""
    results = []
    for variant in source.variants(endpoint):
        stats = _read_variant(source, endpoint, variant, window, find_baseline)
        if stats is not None:
            results.append(judge(stats, thresholds))
    if not results:
        raise EmptyWindowError(
            f"no captured records of endpoint {endpoint} from {window.describe()} under {source.describe()}; "
            "widen the window (--hours, --since/--until), check --endpoint, "
            "and check that capture_enabled is true and the endpoint had traffic"
        )
    return MonitorReport(endpoint=endpoint, source=source.describe(), window=window, thresholds=thresholds, variants=tuple(results))
