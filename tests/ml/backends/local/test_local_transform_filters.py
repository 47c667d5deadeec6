"""The array-pass filter and join against their per-line definitions, across slice boundaries.

Large batches take numpy paths cut into slices at line ends; a slice that starts a byte off, or
a line that straddles a boundary, would shift every record after it. Slices are shrunk to a few
bytes here so generated batches cross many boundaries.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.backends.local.transform import filters

# Bytes a CSV line may hold besides its newline: commas, CR, spaces, digits, text, non-ASCII.
FIELDS = st.lists(st.sampled_from([b"", b"a", b"5.1", b"-0.25", b",", b"\r", b" ", b"versicolor", "é".encode()]), max_size=8).map(b"".join)
LINES = st.lists(st.tuples(FIELDS, FIELDS), min_size=1, max_size=300)
SLICES = st.sampled_from([1, 7, 64, 1 << 20])


def _per_line_join(inputs: list[bytes], answers: list[bytes]) -> bytes:
    return b"\n".join(line + b"," + answer for line, answer in zip(inputs, answers, strict=True))


@settings(max_examples=200, deadline=None, database=None)
@given(lines=LINES, slice_bytes=SLICES)
def test_vector_join_appends_each_answer_to_its_line(lines: list[tuple[bytes, bytes]], slice_bytes: int) -> None:
    inputs, answers = [i for i, _ in lines], [a for _, a in lines]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(filters, "_SLICE_BYTES", slice_bytes)
        joined = filters._join_vector(b"\n".join(inputs), b"\n".join(answers))
    assert joined == _per_line_join(inputs, answers)


@settings(max_examples=200, deadline=None, database=None)
@given(lines=st.lists(FIELDS, min_size=1, max_size=300), slice_bytes=SLICES)
def test_vector_drop_first_field_matches_the_per_line_cut(lines: list[bytes], slice_bytes: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(filters, "_SLICE_BYTES", slice_bytes)
        dropped = filters._drop_first_field(b"\n".join(lines))
    if all(b"," in line for line in lines):
        assert dropped == b"\n".join(line.split(b",", 1)[1] for line in lines)
    else:
        assert dropped is None  # a line without a comma: the general path decides


def test_large_batches_take_the_array_paths_and_agree_with_the_small_ones() -> None:
    lines = [b"setosa,5.1,3.5,1.4,0.2", b"versicolor,7.0,3.2,4.7,1.4", b",6.3,3.3,6.0,2.5"] * 20_000
    answers = [b"setosa", b"", b"virginica"] * 20_000
    data = b"\n".join(lines)
    assert len(data) >= filters._VECTOR_MIN_BYTES
    assert filters.join(data, b"\n".join(answers)) == _per_line_join(lines, answers)
    selector = filters.parse_selector("$[1:]")
    assert filters.apply(selector, data, len(lines)) == b"\n".join(line.split(b",", 1)[1] for line in lines)
