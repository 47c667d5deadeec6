"""Endpoints as SageMaker runs them: Creating → InService/Failed, and UpdateEndpoint, which moto lacks.

An update moves through Updating to InService on the new config, or, when the rehearsal injects
``update-rolled-back`` and the update names auto-rollback alarms, RollingBack → InService on the
old config with a FailureReason, as a blue/green deployment stopped by an alarm does.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ml.rehearsal.faults import REASONS, Fault
from ml.rehearsal.motoapp import MotoApp, Reply, error_reply, json_reply
from ml.rehearsal.progress import Progress, transitional

STATUS = "EndpointStatus"


class EndpointsFake:
    OPERATIONS = frozenset({"CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint", "DeleteEndpoint"})

    def __init__(self, *, moto: MotoApp, fault: Fault | None, in_flight: int = 1) -> None:
        self._moto, self.fault, self._in_flight = moto, fault, in_flight  # fault: set per stage
        self._endpoints: dict[str, Progress] = {}
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            return getattr(self, f"_{operation}")(request)  # type: ignore[no-any-return]

    def _CreateEndpoint(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "CreateEndpoint", request)
        if reply.ok:
            config = request["EndpointConfigName"]
            steps: list[dict[str, Any]] = transitional(STATUS, "Creating", self._in_flight, EndpointConfigName=config)
            if self.fault == "endpoint-failed":
                steps.append({STATUS: "Failed", "EndpointConfigName": config, "FailureReason": REASONS["endpoint-failed"]})
            else:
                steps.append({STATUS: "InService", "EndpointConfigName": config})
            self._endpoints[request["EndpointName"]] = Progress(steps=steps)
        return reply

    def _DescribeEndpoint(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeEndpoint", request)
        state = self._endpoints.get(request.get("EndpointName", ""))
        if not reply.ok or state is None:
            return reply
        described = reply.json()
        described.update(state.advance())
        return json_reply(described)

    def _UpdateEndpoint(self, request: Mapping[str, Any]) -> Reply:
        name, new = request.get("EndpointName", ""), request.get("EndpointConfigName", "")
        existing = self._moto.json_call("sagemaker", "DescribeEndpoint", {"EndpointName": name})
        if not existing.ok:
            return existing
        config = self._moto.json_call("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": new})
        if not config.ok:
            return error_reply(status=400, code="ValidationException", message=f'Could not find endpoint configuration "{new}".')
        state = self._endpoints.get(name)
        current = dict(state.current()) if state else {STATUS: "InService", "EndpointConfigName": existing.json()["EndpointConfigName"]}
        if current[STATUS] != "InService":
            return error_reply(
                status=400,
                code="ValidationException",
                message=f'Cannot update endpoint "{name}" because its status is {current[STATUS]}; it must be InService.',
            )
        old = str(current["EndpointConfigName"])
        now = datetime.now(UTC).timestamp()
        steps: list[dict[str, Any]] = transitional(STATUS, "Updating", self._in_flight, EndpointConfigName=old, LastModifiedTime=now)
        alarms = [a["AlarmName"] for a in request.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", [])]
        if self.fault == "update-rolled-back" and alarms:
            reason = REASONS["update-rolled-back"].format(alarm=alarms[0])
            steps.append({STATUS: "RollingBack", "EndpointConfigName": old, "FailureReason": reason, "LastModifiedTime": now})
            steps.append({STATUS: "InService", "EndpointConfigName": old, "FailureReason": reason, "LastModifiedTime": now})
        else:
            steps.append({STATUS: "InService", "EndpointConfigName": new, "LastModifiedTime": now})
        self._endpoints[name] = Progress(steps=steps)
        return json_reply({"EndpointArn": existing.json()["EndpointArn"]})

    def _DeleteEndpoint(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DeleteEndpoint", request)
        if reply.ok:
            self._endpoints.pop(request.get("EndpointName", ""), None)
        return reply
