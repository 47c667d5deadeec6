"""What the endpoint's autoscaler last saw and did, as ``describe`` reads it (``scaling.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STATUS_FILE = "scaling.json"


@dataclass(frozen=True, kw_only=True)
class ScalingStatus:
    """What ``describe`` shows: the serving variant's current and desired count and why."""

    variant: str
    current: int
    desired: int
    per_instance_per_minute: float
    reason: str
    time: str
    activities: tuple[str, ...] = ()

    @classmethod
    def read(cls, folder: Path) -> ScalingStatus | None:
        try:
            data = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
            return cls(**{**data, "activities": tuple(data.get("activities", ()))})
        except (OSError, ValueError, TypeError):
            return None

    def lines(self) -> tuple[str, ...]:
        head = f"autoscaling: {self.variant} has {self.current} instance(s), desired {self.desired} at {self.time}: {self.reason}"
        return (head, *(f"scaling activity: {a}" for a in self.activities[-5:]))
