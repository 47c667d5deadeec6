"""Status sequences for the fakes: what successive Describe calls see after a Create or Update.

AWS moves a resource through its statuses in time; a rehearsal cannot wait minutes, so each
Describe call advances one step instead. The settled last step repeats, as a settled resource's
description does. Counting calls instead of seconds keeps the fakes deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Overlay = Mapping[str, Any]


@dataclass(kw_only=True)
class Progress:
    """Overlays for successive describes; ``on_settle`` runs once, when the last step is first seen."""

    steps: Sequence[Overlay]
    on_settle: Callable[[], None] | None = None
    seen: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a status sequence needs at least one step")

    @property
    def settled(self) -> bool:
        return self.seen >= len(self.steps)

    def current(self) -> Overlay:
        """The step the next describe would see, without advancing."""
        return self.steps[min(self.seen, len(self.steps) - 1)]

    def advance(self) -> Overlay:
        step = self.current()
        self.seen += 1
        if self.seen == len(self.steps) and self.on_settle is not None:
            self.on_settle()
        return step


def transitional(status_key: str, status: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    """``count`` identical in-flight steps."""
    return [{status_key: status, **extra} for _ in range(count)]
