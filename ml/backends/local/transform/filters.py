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


def apply(selector: Selector, data: bytes, records: int) -> bytes:
    """Select columns of every line of ``data`` (``records`` lines, no trailing newline)."""
    if selector.whole:
        return data
    if selector.parts == (slice(1, None),):
        # The sample's InputFilter ($[1:], drop the label): one C-speed pass over the whole batch.
        cut, count = _DROP_FIRST.subn(b"", data)
        if count == records:
            return cut
    return b"\n".join(b",".join(selector.pick(line.split(b","))) for line in data.split(b"\n"))


def join(inputs: bytes, predictions: list[bytes]) -> bytes:
    """``JoinSource: Input`` for CSV: each input record with its prediction appended."""
    return b"\n".join([record + b"," + answer for record, answer in zip(inputs.split(b"\n"), predictions, strict=True)])
