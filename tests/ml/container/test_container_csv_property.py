"""The fast CSV path against ``float()``: bodies from 4 KB to beyond 1 MiB, LF and CRLF.

The vectorised parser cuts big bodies into 1 MiB slices at line ends; a value that straddles a
slice boundary, or a slice that starts one byte off, would shift every value after it. Each
body is built from generated plain decimals and must decode to exactly ``float()`` of every
cell, one row per line.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from byoc import codec, decimals

N_FEATURES = 4
SLICE = 1 << 20
# Plain decimals as CSV exports write them: optional sign, 1-15 digits, at most one dot.
DECIMALS = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{'.' + frac if frac else ''}",
    st.sampled_from(["", "-"]),
    st.from_regex(r"[0-9]{1,7}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"[0-9]{1,7}", fullmatch=True)),
)


def _body(cells: list[str], rows: int, seed: int, newline: str) -> tuple[bytes, np.ndarray]:
    picks = np.random.default_rng(seed).integers(0, len(cells), size=(rows, N_FEATURES))
    lines = [",".join(cells[i] for i in row) for row in picks]
    expected = np.array([[float(cells[i]) for i in row] for row in picks])
    return (newline.join(lines) + newline).encode(), expected


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    cells=st.lists(DECIMALS, min_size=1, max_size=40),
    rows=st.one_of(st.integers(600, 5_000), st.integers(60_000, 90_000)),
    seed=st.integers(0, 2**32 - 1),
    newline=st.sampled_from(["\n", "\r\n"]),
)
@example(cells=["5.1", "3.5", "1.4", "0.2", "-6.75", "12"], rows=80_000, seed=1, newline="\n")
@example(cells=["0.1234567", "9999999.9999999"], rows=70_000, seed=2, newline="\n")
def test_fast_csv_decodes_exactly_what_float_reads(cells: list[str], rows: int, seed: int, newline: str) -> None:
    body, expected = _body(cells, rows, seed, newline)
    assert len(body) >= 4096
    decoded = codec.decode_csv(body, N_FEATURES)
    assert decoded.shape == (rows, N_FEATURES)  # one answer per row
    mismatched = np.flatnonzero((decoded != expected).any(axis=1))
    assert mismatched.size == 0, f"first wrong row {mismatched[:1]} of {rows} ({len(body)} bytes)"


def test_the_property_reaches_past_the_slice_boundary() -> None:
    body, _ = _body(["5.1", "3.5", "1.4", "0.2"], 80_000, 0, "\n")
    assert len(body) > SLICE  # the @example above crosses at least one 1 MiB cut
    assert decimals.parse(body.rstrip()) is not None  # and takes the vectorised path, not a fallback
