"""UpdateModelPackage as SageMaker does it: properties not named in the request are kept.

moto 5.2 replaces ``CustomerMetadataProperties`` with the request's (``None`` when absent), so
approving a version would erase its lineage and metrics. SageMaker merges: the request's keys
are set, ``CustomerMetadataPropertiesToRemove`` are removed, the rest stay.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ml.rehearsal.motoapp import MotoApp, Reply


class ModelPackagesFake:
    OPERATIONS = frozenset({"UpdateModelPackage"})

    def __init__(self, *, moto: MotoApp) -> None:
        self._moto = moto
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            before = self._moto.json_call("sagemaker", "DescribeModelPackage", {"ModelPackageName": request.get("ModelPackageArn", "")})
            if not before.ok:
                return before
            merged = dict(before.json().get("CustomerMetadataProperties") or {})
            merged.update(request.get("CustomerMetadataProperties") or {})
            for key in request.get("CustomerMetadataPropertiesToRemove") or []:
                merged.pop(key, None)
            forwarded = {k: v for k, v in request.items() if k != "CustomerMetadataPropertiesToRemove"}
            if merged:
                forwarded["CustomerMetadataProperties"] = merged
            return self._moto.json_call("sagemaker", "UpdateModelPackage", forwarded)
