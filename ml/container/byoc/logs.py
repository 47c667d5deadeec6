"""Logging setup shared by the programs: one line per record on stderr, stdout kept for metrics."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    """Log to stderr at ``level`` (an unknown name falls back to INFO rather than failing)."""
    known = logging.getLevelNamesMapping()
    logging.basicConfig(level=known.get(level.upper(), logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
