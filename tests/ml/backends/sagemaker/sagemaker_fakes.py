"""Faithful fakes for what moto 5.2 cannot do: status sequences, UpdateEndpoint, a clock.

Each fake wraps a real moto client and delegates every call it does not model, so requests
still go through botocore's parameter validation and moto's resource store.
"""

from __future__ import annotations

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


class EndpointFake(_Delegating):
    """UpdateEndpoint as SageMaker runs it: Updating, then InService on the new config, or
    RollingBack and InService on the old one, or stuck Updating (for deadlines)."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.config_of: dict[str, str] = {}
        self.updates: list[dict[str, Any]] = []
        self.outcome = "success"  # success | rollback | stuck | failed
        self._steps: dict[str, list[tuple[str, str, str]]] = defaultdict(list)

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        name, new = request["EndpointName"], request["EndpointConfigName"]
        self.real.describe_endpoint_config(EndpointConfigName=new)  # a missing config fails as on AWS
        self.updates.append(request)
        old = self.config_of.get(name) or self.real.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        reason = "Alarm scikit-byo-endpoint-5xx in ALARM during baking; rolled back"
        if self.outcome == "success":
            steps = [("Updating", old, ""), ("Updating", old, ""), ("InService", new, "")]
        elif self.outcome == "rollback":
            steps = [("Updating", old, ""), ("RollingBack", old, reason), ("InService", old, reason)]
        elif self.outcome == "failed":
            steps = [("Updating", old, ""), ("Failed", old, "Image could not be pulled")]
        else:
            steps = [("Updating", old, "")]
        self._steps[name] = steps
        self.config_of[name] = old
        return {"EndpointArn": f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{name}"}

    def describe_endpoint(self, **kwargs: Any) -> Any:
        described = dict(self.real.describe_endpoint(**kwargs))
        name = kwargs["EndpointName"]
        steps = self._steps.get(name)
        if steps:
            status, config, reason = steps.pop(0) if len(steps) > 1 else steps[0]
            self.config_of[name] = config
            described.update({"EndpointStatus": status, "EndpointConfigName": config})
            if reason:
                described["FailureReason"] = reason
        elif name in self.config_of:
            described["EndpointConfigName"] = self.config_of[name]
        return described


def record_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """The exact parameters of every ``operation`` call on ``client`` (after the code built them)."""
    calls: list[dict[str, Any]] = []
    service = client.meta.service_model.service_id.hyphenize()

    def remember(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"provide-client-params.{service}.{operation}", remember)
    return calls
