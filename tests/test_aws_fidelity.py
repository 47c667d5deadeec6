"""docs/aws-fidelity.md stays true to the tests: every test it names exists, and its count is right."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEDGER = (ROOT / "docs" / "aws-fidelity.md").read_text(encoding="utf-8")
ROWS = [line for line in LEDGER.splitlines() if re.match(r"^\| [A-Z]+-\d+ \|", line)]
# A statement quotes AWS, points at rows that do, or says in bold what it is instead.
BACKED = re.compile(r'"|\b[A-Z]+-\d+\b|\*\*')


def test_the_row_count_is_the_one_stated() -> None:
    (stated,) = re.findall(r"^Rows: (\d+)\.", LEDGER, re.MULTILINE)
    assert int(stated) == len(ROWS)
    assert len({row.split("|")[1].strip() for row in ROWS}) == len(ROWS)  # every id once


def test_every_row_quotes_aws_or_says_it_cannot() -> None:
    unbacked = [row[:80] for row in ROWS if not BACKED.search(row.split("|")[3])]
    assert unbacked == []


def test_every_named_test_exists() -> None:
    named = re.findall(r"`([\w/]+\.py)::(\w+)`", LEDGER)
    assert len(named) > 60
    for path, function in named:
        source = _test_file(path).read_text(encoding="utf-8")
        assert re.search(rf"^def {function}\(", source, re.MULTILINE), f"{path}::{function} is not a test"


def _test_file(path: str) -> Path:
    """A named test file: under tests/ (the rows), from the root, or by a file name that only one test file has."""
    for candidate in (ROOT / "tests" / path, ROOT / path):
        if candidate.is_file():
            return candidate
    found = list((ROOT / "tests").rglob(path))
    assert len(found) == 1, f"{path} names {len(found)} test files, not one"
    return found[0]
