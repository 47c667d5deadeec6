"""SageMaker's ``DataProcessing`` for CSV: ``InputFilter``, ``JoinSource`` and ``OutputFilter``.

Only the JSONPath subset SageMaker documents for CSV is accepted: ``$`` (everything), slices
such as ``$[1:]`` and index lists such as ``$[0,-1]``. Batches are bytes, never parsed into
numbers here: the client's job is to cut and paste columns, as fast as the model server reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml.errors import UserInputError

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

    About 4x faster than the regex on a 6 MB batch. Done in slices of about 1 MB so its int64
    temporaries stay small. ``None`` when a line has no comma (the caller's general path decides).
    """
    import numpy as np  # here, not at the top: small jobs and every other task skip the import

    parts = []
    begin = 0
    while begin < len(data):
        end = data.rfind(b"\n", begin, begin + _SLICE_BYTES) if len(data) - begin > _SLICE_BYTES else -1
        end = len(data) if end <= begin else end
        raw = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
        line_ends = np.append(np.flatnonzero(raw == _NEWLINE), raw.size)
        line_starts = np.append(0, line_ends[:-1] + 1)
        commas = np.flatnonzero(raw == _COMMA)
        first = np.searchsorted(commas, line_starts)
        if first[-1] >= commas.size or (commas[first] >= line_ends).any():
            return None
        # +1 where a line starts, -1 just past its first comma: the running sum marks the bytes to drop.
        marks = np.zeros(raw.size + 1, dtype=np.int8)
        marks[line_starts] = 1
        marks[commas[first] + 1] -= 1
        parts.append(raw[np.cumsum(marks[:-1], dtype=np.int8) == 0].tobytes())
        begin = end + 1
    return b"\n".join(parts)


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


def join(inputs: bytes, predictions: list[bytes]) -> bytes:
    """``JoinSource: Input`` for CSV: each input record with its prediction appended."""
    # map/zip/join run in C, no Python bytecode per record: ~20% faster than a comprehension on 6 MB.
    return b"\n".join(map(b",".join, zip(inputs.split(b"\n"), predictions, strict=True)))
