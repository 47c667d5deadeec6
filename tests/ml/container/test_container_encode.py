"""CSV answers: the array path for string labels writes exactly what ``str()`` per label writes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byoc import codec


def _per_label(predictions: np.ndarray) -> bytes:
    return ("\n".join(map(str, predictions.tolist())) + "\n").encode()


@settings(max_examples=150, deadline=None, database=None)
@given(labels=st.lists(st.text(max_size=12), min_size=1, max_size=8), rows=st.integers(1, 400), seed=st.integers(0, 2**16))
def test_csv_answers_match_str_per_label(labels: list[str], rows: int, seed: int) -> None:
    picks = np.random.default_rng(seed).integers(0, len(labels), size=rows)
    predictions = np.array(labels)[picks]
    assert codec.encode(predictions, codec.CSV) == _per_label(predictions)


@pytest.mark.parametrize(
    ("labels", "array_path"),
    [
        (["setosa", "versicolor", ""], True),
        (["a b,c", "\x7f"], True),
        (["é", "a"], False),  # not ASCII: one byte per code point would be wrong
        (["a\x00b", "c"], False),  # an inner NUL looks like padding
        ([1.5, 2.0], False),  # numbers are formatted by Python
    ],
)
def test_only_ascii_string_labels_take_the_array_path(labels: list[object], array_path: bool) -> None:
    predictions = np.array(labels * 100)
    assert (codec._ascii_lines(predictions) is not None) is array_path
    assert codec.encode(predictions, codec.CSV) == _per_label(predictions)
