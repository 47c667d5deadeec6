"""What the endpoint's autoscaler last saw and did (``scaling.json``), written by it and read by ``describe``."""

from __future__ import annotations

import json
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.backends.local.records import ScalingStatus

STATUS_FILE = "scaling.json"


def read(folder: Path) -> ScalingStatus | None:
    try:
        return ScalingStatus.from_dict(json.loads((folder / STATUS_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write(folder: Path, status: ScalingStatus) -> None:
    atomic_write_text(folder / STATUS_FILE, json.dumps(status.to_dict(), indent=1))


def lines(status: ScalingStatus) -> tuple[str, ...]:
    head = f"autoscaling: {status.variant} has {status.current} instance(s), desired {status.desired} at {status.time}: {status.reason}"
    return (head, *(f"scaling activity: {a}" for a in status.activities[-5:]))
