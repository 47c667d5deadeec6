"""SageMaker's ``DataProcessing`` for CSV: ``InputFilter``, ``JoinSource`` and ``OutputFilter``.

Only the JSONPath subset SageMaker documents for CSV is accepted: ``$`` (everything), slices
such as ``$[1:]`` and index lists such as ``$[0,-1]``. Batches are bytes, never parsed into
numbers here: the client's job is to cut and paste columns, as fast as the model server reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ml.errors import UserInputError

if TYPE_CHECKING:  # numpy is imported where a large batch needs it, not with this module
    import numpy as np
    from numpy.typing import NDArray

_DROP_FIRST = re.compile(rb"^[^,\n]*,", re.MULTILINE)
_VECTOR_MIN_BYTES = 64 * 1024  # below this the regex is as quick and numpy need not be imported
_SLICE_BYTES = 1 << 20
_NEWLINE, _COMMA = ord("\n"), ord(",")


@dataclass(frozen=True, kw_only=True)
class Selector:
    text: str
    parts: tuple[int | slice, ...] = ()  # empty: the whole record

    @property
    def whole(self) -> bool:
        return not self.parts

    def pick(self, fields: list[bytes]) -> list[bytes]:
        chosen: list[bytes] = []
        for part in self.parts:
            if isinstance(part, slice):
                chosen += fields[part]
            elif -len(fields) <= part < len(fields):
                chosen.append(fields[part])
        return chosen


def parse_selector(text: str) -> Selector:
    """``$`` / ``$[1:]`` / ``$[0,-1]`` / ``$[0:2,4]``; anything else is refused with the accepted forms."""
    spec = text.strip()
    if spec == "$":
        return Selector(text=spec)
    match = re.fullmatch(r"\$\[([-0-9:, ]+)\]", spec)
    if match is None:
        raise UserInputError(f"JSONPath {text!r} is not supported for CSV; use $, a slice like $[1:] or indexes like $[0,-1]")
    parts: list[int | slice] = []
    for item in match.group(1).split(","):
        token = item.strip()
        try:
            if ":" in token:
                bounds = [int(b) if b.strip() else None for b in token.split(":")]
                if len(bounds) != 2:
                    raise ValueError(token)
                parts.append(slice(bounds[0], bounds[1]))
            else:
                parts.append(int(token))
        except ValueError as err:
            raise UserInputError(f"JSONPath {text!r}: {token!r} is neither an index nor a slice like 1:") from err
    return Selector(text=spec, parts=tuple(parts))


def _drop_first_field(data: bytes) -> bytes | None:
    """``$[1:]`` on a large batch with numpy: delete each line up to its first comma, in array passes.

    Each line is a run of bytes to drop (its first field and comma) then a run to keep (the rest
    and its newline); ``np.repeat`` spells that keep-mask out from the run lengths, with no Python
    per line (a running sum over the bytes did the same ~5x slower). Done in slices of about 1 MB
    so the per-line integer arrays stay small. ``None`` when a line has no comma (the caller's
    general path decides).
    """
    import numpy as np  # here, not at the top: small jobs and every other task skip the import

    parts = []
    for begin, end in _line_slices(data):
        raw = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
        line_ends = np.append(np.flatnonzero(raw == _NEWLINE), raw.size)
        line_starts = np.append(0, line_ends[:-1] + 1)
        commas = np.flatnonzero(raw == _COMMA)
        first = np.searchsorted(commas, line_starts)
        if first[-1] >= commas.size or (commas[first] >= line_ends).any():
            return None
        runs = np.empty(2 * line_ends.size, dtype=np.intp)
        runs[0::2] = commas[first] + 1 - line_starts  # dropped: the first field and its comma
        runs[1::2] = line_ends - commas[first]  # kept: the rest of the line and its newline
        runs[-1] -= 1  # the slice's last line has no newline
        parts.append(raw[np.repeat(_alternating(first=False, size=runs.size), runs)].tobytes())
    return b"\n".join(parts)


def _line_slices(data: bytes) -> Iterator[tuple[int, int]]:
    """``(begin, end)`` slices of about ``_SLICE_BYTES`` holding whole lines: ``end`` is at a newline
    or the end of ``data``; every line of ``data``, empty ones included, is in exactly one slice."""
    begin = 0
    while True:
        end = data.rfind(b"\n", begin, begin + _SLICE_BYTES) if len(data) - begin > _SLICE_BYTES else -1
        end = len(data) if end < begin else end
        yield begin, end
        if end == len(data):
            return
        begin = end + 1


def apply(selector: Selector, data: bytes, records: int) -> bytes:
    """Select columns of every line of ``data`` (``records`` lines, no trailing newline)."""
    if selector.whole:
        return data
    if selector.parts == (slice(1, None),):
        # The sample's InputFilter ($[1:], drop the label): a C-speed pass over the whole batch.
        if len(data) >= _VECTOR_MIN_BYTES:
            dropped = _drop_first_field(data)
            if dropped is not None:
                return dropped
        cut, count = _DROP_FIRST.subn(b"", data)
        if count == records:
            return cut
    return b"\n".join(b",".join(selector.pick(line.split(b","))) for line in data.split(b"\n"))


def join(inputs: bytes, answers: bytes) -> bytes:
    """``JoinSource: Input`` for CSV: each input record with its answer line appended.

    ``inputs`` and ``answers`` hold the same number of lines (the caller counted), neither with a
    trailing newline; so does the result.
    """
    if len(inputs) < _VECTOR_MIN_BYTES:
        # map/zip/join run in C, no Python bytecode per record; numpy need not be imported.
        return b"\n".join(map(b",".join, zip(inputs.split(b"\n"), answers.split(b"\n"), strict=True)))
    return _join_vector(inputs, answers)


def _join_vector(inputs: bytes, answers: bytes) -> bytes:
    """:func:`join` in array passes: ~4x faster than splitting into a bytes object per line.

    The output alternates runs from the input (a line, then a comma where its newline was) and
    runs from the answers (a line and its newline); ``np.repeat`` spells out which byte comes
    from which side, and two masked copies fill them in. Sliced like :func:`_drop_first_field`.
    """
    import numpy as np  # here, not at the top: small jobs and every other task skip the import

    answer_bytes = np.frombuffer(answers, dtype=np.uint8)
    answer_ends = np.append(np.flatnonzero(answer_bytes == _NEWLINE), answer_bytes.size)
    parts = []
    done = 0  # lines joined so far
    for begin, end in _line_slices(inputs):
        line = np.frombuffer(inputs, dtype=np.uint8, count=end - begin, offset=begin)
        line_ends = np.append(np.flatnonzero(line == _NEWLINE), line.size)
        count, last = line_ends.size, end == len(inputs)
        first_answer = int(answer_ends[done - 1]) + 1 if done else 0
        answer = answer_bytes[first_answer : answer_ends[done + count - 1]]
        runs = np.empty(2 * count, dtype=np.intp)
        runs[0::2] = np.diff(line_ends, prepend=-1)  # a line and the comma after it
        runs[1::2] = np.diff(answer_ends[done : done + count], prepend=first_answer - 1)  # its answer and newline
        if last:
            runs[-1] -= 1  # no newline after the last answer
        from_input = np.repeat(_alternating(first=True, size=runs.size), runs)
        out = np.empty(from_input.size, dtype=np.uint8)
        out[from_input] = np.append(line, np.uint8(_COMMA))
        out[np.cumsum(runs[0::2] + runs[1::2]) - runs[1::2] - 1] = _COMMA  # where the input's newlines were
        out[~from_input] = answer if last else np.append(answer, np.uint8(_NEWLINE))
        parts.append(out.tobytes())
        done += count
    return b"".join(parts)


def _alternating(*, first: bool, size: int) -> NDArray[np.bool_]:
    """``[first, not first, first, ...]`` of ``size`` booleans: which runs to keep (or take from the input)."""
    import numpy as np

    pattern = np.zeros(size, dtype=bool)
    pattern[0 if first else 1 :: 2] = True
    return pattern
