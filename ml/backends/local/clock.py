"""Timestamps as SageMaker shows them: ISO 8601, UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def stamp() -> str:
    """A sortable suffix for generated names, like SageMaker's job names: 20250101-120000-123."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}"
