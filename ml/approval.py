"""An approval decision as a user takes it: checked first, a repeat that changes nothing, a warning
when the version rejected is the one serving.

``invoke approve`` validates the decision before it writes the version's report (a file), then
calls :func:`decide`. Both backends' ``approve`` are idempotent themselves (the Backend contract);
this module is what tells the user.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml.backends.base import Backend
from ml.backends.records import ModelVersion, approval_note, decision
from ml.errors import NotFoundError
from ml.names import Decision


@dataclass(frozen=True, kw_only=True)
class Checked:
    """A decision and its note, valid for both backends (SageMaker's ApprovalDescription rules)."""

    status: Decision
    note: str


def check(*, status: str, note: str) -> Checked:
    """Validate the flags before anything is written; UserInputError names what is wrong."""
    return Checked(status=decision(status), note=approval_note(note))


def _serving(backend: Backend, endpoint: str) -> int | None:
    try:
        return backend.describe_endpoint(endpoint_name=endpoint).version or None
    except NotFoundError:
        return None


def decide(backend: Backend, *, version: int, checked: Checked, endpoint: str) -> tuple[ModelVersion, list[str]]:
    """Apply the decision; return the version and what the user should read about it."""
    current = next((v for v in backend.list_versions() if v.version == version), None)
    if current is not None and current.approval_status == checked.status:
        return current, [f"model version {version} is already {checked.status}; nothing changed, no audit entry added"]
    decided = backend.approve(version=version, status=checked.status, note=checked.note)
    lines = []
    if checked.status == "Rejected" and _serving(backend, endpoint) == version:
        lines.append(
            f"warning: model version {version} is serving endpoint {endpoint}; rejecting it does not take it off the endpoint. "
            "Roll back with `invoke rollback`, or deploy another version with `invoke deploy --mode update --version N`"
        )
    return decided, lines
