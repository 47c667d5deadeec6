"""The versions page's query, validated: status filter, page, page size, the two to compare.

Pure functions of the query string, so the rules (and their error messages) are tested alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml.backends.records import ModelVersion
from ml.errors import UserInputError
from ml.names import APPROVAL_STATUSES

PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


def version_number(text: str) -> int:
    """A model version number as the CLI takes it (`invoke approve VERSION`), or its error."""
    if not text.isdigit() or int(text) < 1 or len(text) > 9:
        raise UserInputError(f"VERSION must be a model version number such as 3, not {text!r} (see `invoke versions`)")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class VersionQuery:
    status: str = ""  # "" for every status
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE
    compare: tuple[int, ...] = ()

    @classmethod
    def parse(cls, args: Mapping[str, str], compare: Sequence[str] = ()) -> VersionQuery:
        status = args.get("status", "")
        if status and status not in APPROVAL_STATUSES:
            raise UserInputError(f"status must be one of {', '.join(APPROVAL_STATUSES)} (or empty for all), not {status!r}")
        page = _positive(args.get("page", "1"), what="page")
        per_page = _positive(args.get("per_page", str(DEFAULT_PAGE_SIZE)), what="per_page")
        if per_page not in PAGE_SIZES:
            raise UserInputError(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}, not {per_page}")
        chosen = tuple(dict.fromkeys(version_number(c) for c in compare if c))
        if len(chosen) not in (0, 2):
            raise UserInputError(f"select exactly two versions to compare, not {len(chosen)}")
        return cls(status=status, page=page, per_page=per_page, compare=chosen)


def _positive(text: str, *, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise UserInputError(f"{what} must be a whole number from 1, not {text!r}")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class VersionPage:
    rows: tuple[ModelVersion, ...]
    total: int  # versions that match the filter
    page: int
    pages: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_of(versions: Sequence[ModelVersion], query: VersionQuery) -> VersionPage:
    """The query's page of ``versions``, newest first; a page past the end is an error."""
    matching = sorted((v for v in versions if not query.status or v.approval_status == query.status), key=lambda v: -v.version)
    pages = max(1, -(-len(matching) // query.per_page))
    if query.page > pages:
        raise UserInputError(f"page {query.page} does not exist: {len(matching)} version(s) make {pages} page(s) of {query.per_page}")
    start = (query.page - 1) * query.per_page
    return VersionPage(rows=tuple(matching[start : start + query.per_page]), total=len(matching), page=query.page, pages=pages)
