"""The model registry: versions per model package group, approval status and its audit trail.

Version numbers are handed out under the store's lock, so two ``invoke train`` runs at once get
two different versions. Approval is its own verb; every change is appended to the version's
``approvals`` list with who, when and why, the way SageMaker records an approval's author.
"""

from __future__ import annotations

import dataclasses
import getpass
import socket

from ml.backends.local.clock import now_iso
from ml.backends.local.store import StateStore
from ml.backends.records import ApprovalEvent, ModelVersion, TrainingJob, approval_note, decision, initial_status
from ml.errors import NotFoundError, UserInputError

KIND = "model-versions"


def _key(group: str, version: int) -> str:
    return f"{group}-{version:06d}"


class Registry:
    def __init__(self, *, store: StateStore, group: str) -> None:
        self._store = store
        self._group = group

    def versions(self) -> list[ModelVersion]:
        """All versions of the group, newest first (the Backend contract)."""
        found = [ModelVersion.from_dict(r) for r in self._store.list(KIND) if r.get("group") == self._group]
        return sorted(found, key=lambda v: v.version, reverse=True)

    def get(self, version: int) -> ModelVersion:
        record = self._store.get(KIND, _key(self._group, version))
        if record is None:
            known = ", ".join(str(v) for v in sorted(v.version for v in self.versions())) or "none yet; train one with `invoke train`"
            raise NotFoundError(f"model version {version} does not exist in {self._group!r} (registered versions: {known})")
        return ModelVersion.from_dict(record)

    def register(self, *, job: TrainingJob, approval_status: str) -> ModelVersion:
        if job.status != "Completed":
            raise UserInputError(f"training job {job.name} is {job.status}, not Completed; only a completed job's model can be registered")
        initial = initial_status(approval_status)
        with self._store.locked():
            existing = self.versions()
            for already in existing:
                if already.training_job == job.name:
                    return already  # registering a job twice names one version, as on SageMaker
            number = max((v.version for v in existing), default=0) + 1
            event = ApprovalEvent(status=initial, by=_who(), at=now_iso(), note="registered")
            version = ModelVersion(
                group=self._group,
                version=number,
                approval_status=initial,
                artifact_uri=job.artifact_uri,
                artifact_sha256=job.artifact_sha256,
                image=job.lineage.image,
                training_job=job.name,
                metrics=dict(job.metrics),
                lineage=job.lineage,
                created_at=now_iso(),
                approvals=(event,),
            )
            self._store.put(KIND, _key(self._group, number), version.to_dict())
        return version

    def approve(self, *, version: int, status: str, note: str) -> ModelVersion:
        chosen = decision(status)
        note = approval_note(note)
        with self._store.locked():
            current = self.get(version)
            if current.approval_status == chosen:
                return current  # the same decision again: nothing changes, and the audit trail gets no duplicate
            event = ApprovalEvent(status=chosen, by=_who(), at=now_iso(), note=note)
            updated = dataclasses.replace(current, approval_status=chosen, approvals=(*current.approvals, event))
            self._store.put(KIND, _key(self._group, version), updated.to_dict())
        return updated


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
