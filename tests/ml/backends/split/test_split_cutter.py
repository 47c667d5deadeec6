"""Cutting one input into parts of whole records: every record kept, in order, in one part."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.backends.split.contract import InputContract
from ml.backends.split.cutter import LineCutter, Piece, part_count, part_name, pieces
from ml.errors import UserInputError

ROWS = b"".join(b"setosa,5.%d,3.5,1.4,0.2\n" % (i % 10) for i in range(100))


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def split(data: bytes, parts: int, *, chunk: int = 1 << 20, header: bool = False) -> tuple[list[bytes], bytes]:
    cutter = LineCutter(size=len(data), parts=parts, source="in.csv", contract=InputContract(header=header))
    found: list[Piece] = list(pieces(cutter, chunked(data, chunk)))
    joined: dict[int, bytes] = {}
    for piece in found:
        joined[piece.part] = joined.get(piece.part, b"") + piece.data
    assert sorted(joined) == list(range(len(joined)))  # parts are consecutive from 0
    return [joined[k] for k in sorted(joined)], cutter.header


def records(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


def test_parts_are_whole_records_of_about_equal_size_in_input_order() -> None:
    parts, header = split(ROWS, 4, chunk=97)  # chunks that cut records in the middle
    assert len(parts) == 4 and header == b""
    assert b"".join(parts) == ROWS
    assert all(part.endswith(b"\n") for part in parts)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= len(b"setosa,5.0,3.5,1.4,0.2\n")


def test_the_pieces_say_where_they_start_in_the_input() -> None:
    cutter = LineCutter(size=len(ROWS), parts=4, source="in.csv", contract=InputContract())
    firsts = {}
    for piece in pieces(cutter, chunked(ROWS, 1000)):
        assert ROWS[piece.offset : piece.offset + len(piece.data)] == piece.data
        firsts.setdefault(piece.part, (piece.first_line, piece.first_record))
    assert firsts == {0: (1, 1), 1: (26, 26), 2: (51, 51), 3: (76, 76)}


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_record_numbers_skip_empty_lines_and_the_header(chunk: int) -> None:
    data = b"h,a\n\nr1\n\n\nr2\nr3\n\nr4\n"
    lines = data.split(b"\n")
    cutter = LineCutter(size=len(data), parts=4, source="in.csv", contract=InputContract(header=True))
    starts: dict[int, Piece] = {}
    for piece in pieces(cutter, chunked(data, chunk)):
        starts.setdefault(piece.part, piece)
    assert len(starts) >= 3
    for piece in starts.values():
        first = data[piece.offset :].split(b"\n")[0]
        assert lines[piece.first_line - 1] == first  # r1 is line 3, r2 line 6 ...
        assert piece.first_record == int(first[1:])  # ... but records 1, 2: neither header nor empty lines count


def test_fewer_records_than_parts_gives_one_part_per_record() -> None:
    parts, _ = split(b"a,1\nb,2\n", 4)
    assert parts == [b"a,1\n", b"b,2\n"]


def test_empty_lines_never_start_a_part_and_a_tail_of_them_is_dropped() -> None:
    data = b"\n\na,1\nb,2\n\n\n\n\n\n\n\n\nc,3\n\n\n\n\n\n\n\n\n\n"
    parts, _ = split(data, 3, chunk=3)
    assert all(part and not part.startswith(b"\n") for part in parts)
    assert records(b"".join(parts)) == [b"a,1", b"b,2", b"c,3"]


def test_a_last_record_without_a_newline_is_kept() -> None:
    parts, _ = split(b"a,1\nb,2\nc,3", 3)
    assert parts == [b"a,1\n", b"b,2\n", b"c,3"]


def test_a_header_is_held_back_out_of_every_part() -> None:
    data = b"species,a,b\n" + ROWS
    parts, header = split(data, 3, chunk=5, header=True)
    assert header == b"species,a,b\n"
    assert b"".join(parts) == ROWS
    assert not any(b"species" in part for part in parts)


def test_without_a_header_in_the_contract_the_first_line_is_a_record() -> None:
    parts, header = split(b"species,a\n1,2\n", 2)
    assert header == b"" and parts[0] == b"species,a\n"


def test_a_quoted_field_with_a_newline_is_refused_naming_its_line() -> None:
    data = ROWS + b'setosa,"two\nlines",1\n' + ROWS
    with pytest.raises(UserInputError, match=r"in\.csv line 101: a quoted CSV field holds a newline"):
        split(data, 4, chunk=50)


def test_quotes_that_close_on_their_line_are_fine() -> None:
    data = b'a,"x, ""quoted"" y",1\n' * 20
    parts, _ = split(data, 4, chunk=7)
    assert b"".join(parts) == data and len(parts) == 4


def test_an_unclosed_quote_at_the_end_is_refused() -> None:
    with pytest.raises(UserInputError, match="never closed"):
        split(b'a,1\nb,"2', 2)


def test_part_names_sort_in_input_order_and_counts_are_bounded() -> None:
    names = [part_name(i) for i in range(12)]
    assert names == sorted(names) and names[0] == "part-00001.csv"
    assert (part_count(size=10_000, wanted=8), part_count(size=3, wanted=8), part_count(size=0, wanted=8)) == (8, 3, 1)
    assert part_count(size=10_000, wanted=0) == 1


lines = st.lists(st.sampled_from([b"", b"a", b"bb,1", b"ccc,2,3", b"d" * 40]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(lines=lines, parts=st.integers(1, 9), chunk=st.integers(1, 64), final_newline=st.booleans())
def test_every_record_is_in_exactly_one_part_in_order(lines: list[bytes], parts: int, chunk: int, final_newline: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    found, _ = split(data, parts, chunk=chunk)
    assert records(b"".join(found)) == records(data)
    assert len(found) <= parts
    assert all(records(part) for part in found)  # no part without a record
    assert all(part.endswith(b"\n") for part in found[:-1])  # cut on line boundaries
    same, _ = split(data, parts, chunk=len(data) + 1)
    assert same == found  # the cut does not depend on how the input was read
    cutter = LineCutter(size=len(data), parts=parts, source="in.csv", contract=InputContract())
    for piece in pieces(cutter, chunked(data, chunk)):
        line_start = data.rfind(b"\n", 0, piece.offset) + 1  # a piece may start inside its first line
        assert piece.first_record == len(records(data[:line_start])) + 1
        assert piece.first_line == data[: piece.offset].count(b"\n") + 1


def test_a_memory_mapped_input_cuts_where_a_streamed_one_does_without_copying(tmp_path: Path) -> None:
    import mmap

    path = tmp_path / "in.csv"
    path.write_bytes(b"\n" + ROWS * 3)
    streamed = LineCutter(size=len(ROWS) * 3 + 1, parts=5, source="in.csv", contract=InputContract())
    spans = [(p.part, p.offset, p.size) for p in pieces(streamed, chunked(path.read_bytes(), 999))]
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        cutter = LineCutter(size=len(mapped), parts=5, source="in.csv", contract=InputContract(), count=False)
        found = list(pieces(cutter, [mapped]))
        assert [(p.part, p.first_line, p.first_record) for p in found] == [(k, 0, 0) for k in range(5)]  # not counted
        joined: dict[int, list[int]] = {}
        for part, offset, size in spans:
            joined.setdefault(part, [offset, 0])[1] += size
        assert [(p.offset, p.size) for p in found] == [tuple(v) for _, v in sorted(joined.items())]
