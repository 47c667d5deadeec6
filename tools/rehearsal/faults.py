"""The failures a rehearsal can inject, and what each one makes AWS report."""

from __future__ import annotations

from typing import Literal, get_args

from ml.errors import UserInputError

Fault = Literal["training-failed", "transform-failed", "endpoint-failed", "update-rolled-back"]
FAULTS: tuple[Fault, ...] = get_args(Fault)

# The FailureReason each fake reports; the rehearsal checks the task's output carries it.
REASONS: dict[Fault, str] = {
    "training-failed": "AlgorithmError: injected by the rehearsal (fault training-failed)",
    "transform-failed": "ClientError: injected by the rehearsal (fault transform-failed)",
    "endpoint-failed": "The primary container for production variant AllTraffic did not pass the ping health check "
    "(injected by the rehearsal: fault endpoint-failed)",
    # {alarm} is the first alarm of the update's AutoRollbackConfiguration.
    "update-rolled-back": "Alarm {alarm} went to ALARM during baking; rolled back (injected by the rehearsal: fault update-rolled-back)",
}


def parse_fault(name: str) -> Fault | None:
    """``""`` means no fault; anything else must be one of :data:`FAULTS`."""
    if not name:
        return None
    for fault in FAULTS:
        if fault == name:
            return fault
    raise UserInputError(f"unknown fault {name!r}; choose one of {', '.join(FAULTS)}")
