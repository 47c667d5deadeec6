"""Faithful fakes for what moto 5.2 cannot do: status sequences, UpdateEndpoint, a clock.

Each fake wraps a real moto client and delegates every call it does not model, so requests
still go through botocore's parameter validation and moto's resource store.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import Any


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a wait loop must never spin without sleeping"
        self.sleeps.append(seconds)
        self.now += seconds


class _Delegating:
    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class TrainingStatusFake(_Delegating):
    """Training jobs that move through scripted statuses instead of moto's instant Completed.

    ``script(name, [...])`` gives per-describe overlays for one job; the last one repeats, as a
    settled job's description does.
    """

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self._scripts: dict[str, list[dict[str, Any]]] = {}
        self.created: list[dict[str, Any]] = []

    def script(self, name: str, steps: Iterable[dict[str, Any]]) -> None:
        self._scripts[name] = list(steps)

    def create_training_job(self, **request: Any) -> Any:
        self.created.append(request)
        return self.real.create_training_job(**request)

    def describe_training_job(self, **kwargs: Any) -> Any:
        described = dict(self.real.describe_training_job(**kwargs))
        steps = self._scripts.get(kwargs["TrainingJobName"])
        if steps:
            overlay = steps.pop(0) if len(steps) > 1 else steps[0]
            described.update(overlay)
            if overlay.get("TrainingJobStatus") != "Completed":
                described.pop("ModelArtifacts", None)
        return described


class TransformStatusFake(_Delegating):
    """Transform jobs that run InProgress and then end as ``outcome`` says (moto completes at once).

    ``outcome`` is Completed, Failed or Stopped; Failed and Stopped carry ``reason``. Given an S3
    client, a job also writes its outputs as SageMaker does (``transform_outputs``), and ends Failed
    when an input object holds a bad record; ``created`` keeps every request.
    """

    def __init__(self, real: Any, *, s3: Any | None = None, logs: Any | None = None) -> None:
        super().__init__(real)
        self.outcome = "Completed"
        self.reason = "ClientError: See job logs for more information"
        self._steps: dict[str, list[dict[str, Any]]] = {}
        self._s3, self._logs = s3, logs
        self.created: list[dict[str, Any]] = []

    def create_transform_job(self, **request: Any) -> Any:
        from transform_outputs import write_outputs

        reply = self.real.create_transform_job(**request)
        self.created.append(request)
        failed = write_outputs(self._s3, self._logs, request) if self._s3 is not None and self.outcome == "Completed" else []
        outcome = "Failed" if failed else self.outcome
        final: dict[str, Any] = {"TransformJobStatus": outcome}
        if outcome != "Completed":
            final["FailureReason"] = self.reason
        active = "Stopping" if outcome == "Stopped" else "InProgress"
        self._steps[request["TransformJobName"]] = [{"TransformJobStatus": "InProgress"}, {"TransformJobStatus": active}, final]
        return reply

    def describe_transform_job(self, **kwargs: Any) -> Any:
        described = dict(self.real.describe_transform_job(**kwargs))
        steps = self._steps.get(kwargs["TransformJobName"])
        if steps:
            overlay = steps.pop(0) if len(steps) > 1 else steps[0]
            described.update(overlay)
            if overlay["TransformJobStatus"] != "Completed":
                described.pop("TransformEndTime", None)
        return described

    def list_transform_jobs(self, **kwargs: Any) -> Any:
        """Filtered by the scripted status, as SageMaker filters by the real one."""
        wanted = kwargs.pop("StatusEquals", None)
        page = dict(self.real.list_transform_jobs(**kwargs))
        summaries = []
        for summary in page.get("TransformJobSummaries", []):
            status = self.describe_status(summary["TransformJobName"])
            if wanted is None or status == wanted:
                summaries.append({**summary, "TransformJobStatus": status})
        page["TransformJobSummaries"] = summaries
        return page

    def hold(self, name: str) -> None:
        """From now on the job reports InProgress, as a job still running does."""
        self._steps[name] = [{"TransformJobStatus": "InProgress"}]

    def describe_status(self, name: str) -> str:
        steps = self._steps.get(name)
        return str(steps[0]["TransformJobStatus"]) if steps else "Completed"

    def get_paginator(self, operation: str) -> Any:
        if operation != "list_transform_jobs":
            return self.real.get_paginator(operation)
        fake = self

        class _Pages:
            def paginate(self, **kwargs: Any) -> list[Any]:
                return [fake.list_transform_jobs(**kwargs)]

        return _Pages()


class EndpointFake(_Delegating):
    """Endpoints as SageMaker runs them. CreateEndpoint: Creating, then InService, or Failed with a
    FailureReason (``create_outcome``). UpdateEndpoint: Updating, then InService on the new config,
    or RollingBack and InService on the old one, or Failed, or stuck Updating (for deadlines). While
    a blue/green update runs, PendingDeploymentSummary shows the green fleet's VariantStatus going
    Creating, ActivatingTraffic (its weight rising), Baking, as DescribeEndpoint reports it.
    DeleteEndpoint: Deleting, then gone.

    A new endpoint config is invisible to the next ``config_lag`` CreateEndpoint/UpdateEndpoint
    calls that name it, which fail with a ValidationException: their lookup is an eventually
    consistent read (CreateEndpoint API reference). DescribeEndpointConfig sees it at once."""

    def __init__(self, real: Any, *, config_lag: int = 1) -> None:
        super().__init__(real)
        self.config_lag = config_lag
        self._invisible: dict[str, int] = {}  # config -> CreateEndpoint/UpdateEndpoint calls that still miss it
        self.config_of: dict[str, str] = {}
        self.updates: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.outcome = "success"  # success | rollback | stuck | failed
        self.create_outcome = "success"  # success | failed
        self.create_reason = "The primary container for production variant AllTraffic did not pass the ping health check."
        self._steps: dict[str, list[tuple[str, str, str, dict[str, Any] | None]]] = defaultdict(list)
        self._deleting: dict[str, dict[str, Any]] = {}

    def script(self, name: str, statuses: Iterable[str]) -> None:
        """The next describes report ``statuses`` (the last repeats) on the config it runs now."""
        config = self.config_of.get(name) or self.real.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        self._steps[name] = [(status, config, "", None) for status in statuses]

    def create_endpoint_config(self, **request: Any) -> Any:
        reply = self.real.create_endpoint_config(**request)
        self._invisible[request["EndpointConfigName"]] = self.config_lag
        return reply

    def _lookup_config(self, operation: str, config: str) -> None:
        """Raise as SageMaker does while ``config`` is not yet visible to ``operation``."""
        if self._invisible.get(config, 0) > 0:
            self._invisible[config] -= 1
            arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{config}"
            message = f'Could not find endpoint configuration "{arn}".'
            raise self.real.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)

    def create_endpoint(self, **request: Any) -> Any:
        self._lookup_config("CreateEndpoint", request["EndpointConfigName"])
        reply = self.real.create_endpoint(**request)
        name, config = request["EndpointName"], request["EndpointConfigName"]
        if self.create_outcome == "failed":
            self._steps[name] = [
                ("Creating", config, "", None),
                ("Creating", config, "", None),
                ("Failed", config, self.create_reason, None),
            ]
        else:
            self._steps[name] = [("Creating", config, "", None), ("InService", config, "", None)]
        self.config_of.pop(name, None)
        return reply

    def delete_endpoint(self, **kwargs: Any) -> Any:
        name = kwargs["EndpointName"]
        last = self.describe_endpoint(EndpointName=name)
        if last["EndpointStatus"] in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
            message = f"Cannot delete endpoint {name} while it is {last['EndpointStatus']}"
            raise self.real.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "DeleteEndpoint")
        reply = self.real.delete_endpoint(**kwargs)
        self.deleted.append(name)
        self._steps.pop(name, None)
        self.config_of.pop(name, None)
        self._deleting[name] = {**last, "EndpointStatus": "Deleting"}
        return reply

    def list_tags(self, **request: Any) -> Any:
        """AddTags "Adds or overwrites one or more tags" and "Tag keys must be unique per resource" (API
        reference); moto 5 appends a second tag of the same key instead, so only each key's last value is shown."""
        reply = dict(self.real.list_tags(**request))
        reply["Tags"] = [{"Key": k, "Value": v} for k, v in {t["Key"]: t["Value"] for t in reply.get("Tags", [])}.items()]
        return reply

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        name, new = request["EndpointName"], request["EndpointConfigName"]
        self.real.describe_endpoint_config(EndpointConfigName=new)  # a missing config fails as on AWS
        self._lookup_config("UpdateEndpoint", new)
        self.updates.append(request)
        old = self.config_of.get(name) or self.real.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        reason = "Alarm scikit-byo-endpoint-5xx in ALARM during baking; rolled back"
        creating, shifting, baking = (_pending(new, "Creating", 0.0), _pending(new, "ActivatingTraffic", 0.5), _pending(new, "Baking", 1.0))
        if self.outcome == "success":
            steps = [
                ("Updating", old, "", creating),
                ("Updating", old, "", shifting),
                ("Updating", old, "", baking),
                ("InService", new, "", None),
            ]
        elif self.outcome == "rollback":
            steps = [("Updating", old, "", creating), ("Updating", old, "", shifting), ("RollingBack", old, reason, None)]
            steps.append(("InService", old, reason, None))
        elif self.outcome == "failed":
            steps = [("Updating", old, "", creating), ("Failed", old, "Image could not be pulled", None)]
        else:
            steps = [("Updating", old, "", creating)]
        self._steps[name] = steps
        self.config_of[name] = old
        return {"EndpointArn": f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{name}"}

    def describe_endpoint(self, **kwargs: Any) -> Any:
        name = kwargs["EndpointName"]
        if name in self._deleting:  # one describe while Deleting, then moto's "Could not find"
            return self._deleting.pop(name)
        described = dict(self.real.describe_endpoint(**kwargs))
        steps = self._steps.get(name)
        if steps:
            status, config, reason, pending = steps.pop(0) if len(steps) > 1 else steps[0]
            self.config_of[name] = config
            described.update({"EndpointStatus": status, "EndpointConfigName": config})
            if reason:
                described["FailureReason"] = reason
            if pending:
                described["PendingDeploymentSummary"] = pending
        elif name in self.config_of:
            described["EndpointConfigName"] = self.config_of[name]
        return described


def _pending(config: str, status: str, weight: float) -> dict[str, Any]:
    """DescribeEndpoint's PendingDeploymentSummary for the green fleet of ``config``."""
    started = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    variant = {
        "VariantName": "AllTraffic",
        "CurrentWeight": weight,
        "DesiredWeight": 1.0,
        "CurrentInstanceCount": 0 if status == "Creating" else 2,
        "DesiredInstanceCount": 2,
        "VariantStatus": [{"Status": status, "StatusMessage": f"{status} the new fleet", "StartTime": started}],
    }
    return {"EndpointConfigName": config, "ProductionVariants": [variant], "StartTime": started}


def record_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """The exact parameters of every ``operation`` call on ``client`` (after the code built them)."""
    calls: list[dict[str, Any]] = []
    service = client.meta.service_model.service_id.hyphenize()

    def remember(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"provide-client-params.{service}.{operation}", remember)
    return calls
