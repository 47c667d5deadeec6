"""Models, endpoint configs and endpoints: create idempotently, wait for InService, tear down.

Every resource is named deterministically (:mod:`naming`) and tagged with the endpoint it
belongs to, so a re-run finds it and teardown deletes exactly what this project made.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ml.backends.base import LogSink
from ml.backends.records import Endpoint, ModelVersion, Variant
from ml.backends.sagemaker import naming
from ml.backends.sagemaker.aws_errors import aws_call, error_code, error_message, is_not_found
from ml.backends.sagemaker.capture import data_capture_config
from ml.backends.sagemaker.waiting import Clock, Deadline, retry_while, wait_for
from ml.config import ProjectConfig
from ml.errors import JobFailedError
from ml.names import ENDPOINT_SETTLE_SECONDS, VARIANT_NAME
from ml.tfstate import StackOutputs

TAG_ENDPOINT = "byoc:endpoint"
TAG_VERSION = "byoc:model-version"
TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
CREATE_DEADLINE = Deadline(seconds=ENDPOINT_SETTLE_SECONDS, poll_seconds=30.0)
DELETE_DEADLINE = Deadline(seconds=1200, poll_seconds=15.0)
T = TypeVar("T")
# How long a new endpoint config may stay invisible before we give up. AWS says only that a
# repeated read "after a short time" should see it; no number is documented, so this bound is
# ours, kept well inside every deploy deadline.
CONFIG_VISIBLE_SECONDS = 300.0


def config_not_visible(err: ClientError, config_name: str) -> bool:
    """CreateEndpoint's (and UpdateEndpoint's) answer while the endpoint config it names is not yet
    visible to it: its lookup is an eventually consistent read, and a config not there yet
    "causes a validation error" (CreateEndpoint API reference). AWS documents the error's code,
    not its words, so any ValidationException that names the config or says it is missing counts;
    the retries are bounded (CONFIG_VISIBLE_SECONDS), so a real validation error still surfaces."""
    if error_code(err) not in ("ValidationException", "ValidationError"):
        return False
    return config_name in error_message(err) or is_not_found(err)


def endpoint_record(described: dict[str, Any]) -> Endpoint:
    config_name = str(described.get("EndpointConfigName", ""))
    return Endpoint(
        name=described["EndpointName"],
        status=described["EndpointStatus"],
        config_name=config_name,
        version=naming.version_of_config(config_name),
        variants=tuple(
            Variant(
                name=v.get("VariantName", ""),
                version=naming.version_of_config(config_name),
                weight=float(v.get("CurrentWeight", 1.0)),
                current_instance_count=int(v.get("CurrentInstanceCount", 0)),
                desired_instance_count=int(v.get("DesiredInstanceCount", 0)),
            )
            for v in described.get("ProductionVariants", [])
        ),
        created_at=str(described.get("CreationTime", "")),
        updated_at=str(described.get("LastModifiedTime", "")),
        failure_reason=str(described.get("FailureReason", "")),
    )


class Hosting:
    def __init__(
        self, *, sagemaker: Any, config: ProjectConfig, outputs: StackOutputs, clock: Clock, on_log: LogSink | None = None
    ) -> None:
        self._sm, self._config, self._outputs, self.clock = sagemaker, config, outputs, clock
        self._log = on_log or (lambda _line: None)

    def _tags(self, endpoint_name: str, version: int) -> list[dict[str, str]]:
        tags = {TAG_ENDPOINT: endpoint_name, TAG_VERSION: str(version), "byoc:project": self._config.project_name}
        tags.update({k: v for k, v in self._config.tags.items() if not k.startswith("aws:")})
        return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]

    def ensure_model(self, *, endpoint_name: str, version: ModelVersion) -> str:
        """A SageMaker Model for ``version``, pinned to its image digest."""
        name = naming.model_name(endpoint_name=endpoint_name, version=version.version, image=version.image)
        with aws_call(service="sagemaker", action=f"creating model {name}"):
            try:
                self._sm.describe_model(ModelName=name)
                return name
            except ClientError as err:
                if not is_not_found(err):
                    raise
            self._sm.create_model(
                ModelName=name,
                ExecutionRoleArn=self._outputs.sagemaker_role_arn,
                PrimaryContainer={"Image": version.image, "ModelDataUrl": version.artifact_uri, "Mode": "SingleModel"},
                Tags=self._tags(endpoint_name, version.version),
            )
        self._log(f"created model {name} for version {version.version}")
        return name

    def ensure_config(self, *, endpoint_name: str, version: ModelVersion, model_name: str) -> str:
        """An endpoint config with the project's one variant name (guardrails require it to stay)
        and, unless ``capture_enabled`` is false, data capture into the data lake."""
        variant = {
            "VariantName": VARIANT_NAME,
            "ModelName": model_name,
            "InitialInstanceCount": self._config.hosting_instance_count,
            "InstanceType": self._config.hosting_instance_type,
            "InitialVariantWeight": 1.0,
        }
        capture = data_capture_config(self._config, self._outputs)
        # Capture is part of the name: turning it on or off makes a new config, not a stale reuse.
        content: Any = variant if capture is None else [variant, capture]
        name = naming.endpoint_config_name(endpoint_name=endpoint_name, version=version.version, content=content)
        with aws_call(service="sagemaker", action=f"creating endpoint config {name}"):
            try:
                self._sm.describe_endpoint_config(EndpointConfigName=name)
                return name
            except ClientError as err:
                if not is_not_found(err):
                    raise
            request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": [variant]}
            if capture is not None:
                request["DataCaptureConfig"] = capture
            self._sm.create_endpoint_config(**request, Tags=self._tags(endpoint_name, version.version))
        self._log(f"created endpoint config {name}")
        return name

    def describe(self, endpoint_name: str) -> dict[str, Any] | None:
        with aws_call(service="sagemaker", action=f"describing endpoint {endpoint_name}"):
            try:
                return dict(self._sm.describe_endpoint(EndpointName=endpoint_name))
            except ClientError as err:
                if is_not_found(err):
                    return None
                raise

    def wait_settled(
        self, endpoint_name: str, *, deadline: Deadline, what: str, on_described: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Wait until the endpoint leaves every transitional status; ``on_described`` sees every poll's answer
        (a blue/green update's progress), else each status change is logged."""
        seen: list[str] = []

        def progress(described: dict[str, Any]) -> None:
            if on_described is not None:
                on_described(described)
                return
            status = described["EndpointStatus"]
            if not seen or seen[-1] != status:
                self._log(f"endpoint {endpoint_name}: {status}")
            seen.append(status)

        def describe() -> dict[str, Any]:
            described = self.describe(endpoint_name)
            if described is None:
                raise JobFailedError(f"endpoint {endpoint_name} disappeared while waiting for it ({what})")
            return described

        return wait_for(
            describe,
            settled=lambda d: d["EndpointStatus"] not in TRANSITIONAL,
            status_of=lambda d: str(d["EndpointStatus"]),
            deadline=deadline,
            clock=self.clock,
            what=what,
            on_poll=progress,
        )

    def with_visible_config(self, call: Callable[[], T], *, config_name: str, deadline: Deadline, what: str) -> T:
        """``call()`` (a CreateEndpoint or UpdateEndpoint naming ``config_name``) once the config is visible.

        The CreateEndpoint API reference: the config is looked up with an eventually consistent
        read, a config that is not there yet "causes a validation error", "retry logic is
        recommended", and DescribeEndpointConfig first minimizes the chance of it. So: describe
        until it is seen, then call, retrying "Could not find endpoint configuration" with
        backoff, all inside ``deadline``.
        """
        started = self.clock.monotonic()
        deadline = Deadline(seconds=min(CONFIG_VISIBLE_SECONDS, deadline.seconds), poll_seconds=min(30.0, deadline.poll_seconds))

        def retrying(err: ClientError, delay: float) -> None:
            self._log(f"{what}: endpoint config {config_name} is not visible yet ({error_message(err)}); retrying in {delay:.0f}s")

        with aws_call(service="sagemaker", action=what):
            retry_while(
                lambda: self._sm.describe_endpoint_config(EndpointConfigName=config_name),
                retryable=is_not_found,
                deadline=deadline,
                clock=self.clock,
                what=f"{what}: DescribeEndpointConfig {config_name}",
                on_retry=retrying,
            )
            return retry_while(
                call,
                retryable=lambda err: config_not_visible(err, config_name),
                deadline=deadline.remaining(started=started, clock=self.clock),
                clock=self.clock,
                what=what,
                on_retry=retrying,
            )

    def create(self, *, endpoint_name: str, config_name: str, version: int) -> dict[str, Any]:
        started = self.clock.monotonic()
        tags = self._tags(endpoint_name, version)
        self.with_visible_config(
            lambda: self._sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name, Tags=tags),
            config_name=config_name,
            deadline=CREATE_DEADLINE,
            what=f"creating endpoint {endpoint_name}",
        )
        self._log(f"creating endpoint {endpoint_name} on {config_name}")
        deadline = CREATE_DEADLINE.remaining(started=started, clock=self.clock)
        final = self.wait_settled(endpoint_name, deadline=deadline, what=f"endpoint {endpoint_name} creation")
        if final["EndpointStatus"] != "InService":
            raise JobFailedError(
                f"endpoint {endpoint_name} is {final['EndpointStatus']}: {final.get('FailureReason') or 'no reason given'}; "
                "fix the cause, run `invoke teardown`, then deploy again"
            )
        return final

    def _owned(self, arn: str, endpoint_name: str) -> bool:
        with aws_call(service="sagemaker", action=f"reading tags of {arn}"):
            tags = {t["Key"]: t["Value"] for t in self._sm.list_tags(ResourceArn=arn).get("Tags", [])}
        return tags.get(TAG_ENDPOINT) == endpoint_name

    def delete_endpoint(self, endpoint_name: str) -> None:
        """DeleteEndpoint, then wait until it is gone (its name is taken until then)."""
        with aws_call(service="sagemaker", action=f"deleting endpoint {endpoint_name}"):
            self._sm.delete_endpoint(EndpointName=endpoint_name)
        self._wait_gone(endpoint_name)
        self._log(f"deleted endpoint {endpoint_name}")

    def teardown(self, endpoint_name: str) -> list[str]:
        """Delete the endpoint, then the configs and models tagged as made for it; nothing else."""
        deleted: list[str] = []
        if self.describe(endpoint_name) is not None:
            self.delete_endpoint(endpoint_name)
            deleted.append(f"endpoint/{endpoint_name}")
        prefix = endpoint_name[:40].rstrip("-")
        with aws_call(service="sagemaker", action=f"deleting endpoint configs of {endpoint_name}"):
            for page in self._sm.get_paginator("list_endpoint_configs").paginate(NameContains=prefix):
                for item in page.get("EndpointConfigs", []):
                    if self._owned(item["EndpointConfigArn"], endpoint_name):
                        self._sm.delete_endpoint_config(EndpointConfigName=item["EndpointConfigName"])
                        deleted.append(f"endpoint-config/{item['EndpointConfigName']}")
        return deleted + self.delete_models(endpoint_name)

    def delete_models(self, owner: str, *, keep: Collection[str] = ()) -> list[str]:
        """Delete the models tagged as made for ``owner`` (an endpoint, or the transform owner), except ``keep``."""
        deleted: list[str] = []
        with aws_call(service="sagemaker", action=f"deleting models of {owner}"):
            for page in self._sm.get_paginator("list_models").paginate(NameContains=owner[:40].rstrip("-")):
                for item in page.get("Models", []):
                    if item["ModelName"] not in keep and self._owned(item["ModelArn"], owner):
                        self._sm.delete_model(ModelName=item["ModelName"])
                        deleted.append(f"model/{item['ModelName']}")
        return deleted

    def _wait_gone(self, endpoint_name: str) -> None:
        def describe() -> dict[str, Any]:
            return self.describe(endpoint_name) or {"EndpointStatus": "Deleted"}

        final = wait_for(
            describe,
            settled=lambda d: d["EndpointStatus"] != "Deleting",
            status_of=lambda d: str(d["EndpointStatus"]),
            deadline=DELETE_DEADLINE,
            clock=self.clock,
            what=f"deletion of endpoint {endpoint_name}",
        )
        if final["EndpointStatus"] != "Deleted":
            raise JobFailedError(
                f"endpoint {endpoint_name} could not be deleted (status {final['EndpointStatus']}); see the SageMaker console"
            )
