"""The population stability index (PSI) of a window against the training baseline.

Why PSI and not KS: the baseline keeps the training data as Model Monitor's KLL histogram (ten
equal-width buckets) and a sketch, not the raw values, and the monitor keeps only counts per
bucket so that its memory does not grow with the window. PSI is computed from exactly those two
histograms; a two-sample KS test needs both samples (or both empirical CDFs) at every point and
its p-value shrinks to 0 for any tiny shift once a window holds millions of rows, so it would
flag noise. PSI's usual reading: below 0.1 no shift, 0.1-0.25 a moderate one, above 0.25 a large one.

PSI = sum over buckets of (a - e) * ln(a / e), a and e the window's and the baseline's share of
each bucket. A share of 0 would make the logarithm infinite, so shares are floored at
:data:`EPSILON` (a common convention), which caps one empty bucket's term at about 0.9 per 10%
of mass it misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-4


def shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [max(c / total, EPSILON) if total else EPSILON for c in counts]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of ``actual`` counts against ``expected`` counts over the same buckets."""
    if len(expected) != len(actual):
        raise ValueError(f"PSI needs the same buckets: {len(expected)} expected, {len(actual)} actual")
    if not sum(actual) or not sum(expected):
        return math.nan
    return sum((a - e) * math.log(a / e) for e, a in zip(shares(expected), shares(actual), strict=True))
