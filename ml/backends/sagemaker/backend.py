"""``SageMakerBackend``: the lifecycle verbs, composed from the small modules beside it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml.backends.base import BlueGreenPolicy, LogSink, select_version
from ml.backends.records import Endpoint, ImageRecord, Invocation, ModelVersion, TrainingJob, TransformJob
from ml.backends.rollout import Rollout
from ml.backends.sagemaker import bluegreen, guardrail_alarms, image_pins, images
from ml.backends.sagemaker.aws_errors import aws_call
from ml.backends.sagemaker.clients import AwsClients, make_clients, make_session
from ml.backends.sagemaker.hosting import CREATE_DEADLINE, TRANSITIONAL, Hosting, endpoint_record
from ml.backends.sagemaker.image_build import build_and_push
from ml.backends.sagemaker.naming import transform_owner, version_of_config
from ml.backends.sagemaker.registry import Registry
from ml.backends.sagemaker.scaling import Scaling, resource_id
from ml.backends.sagemaker.schedule import MonitorSchedule
from ml.backends.sagemaker.state import BackendState
from ml.backends.sagemaker.training import DEFAULT_TRAIN_KEY, Trainer
from ml.backends.sagemaker.transform import Transformer
from ml.backends.sagemaker.waiting import Clock, SystemClock
from ml.config import ProjectConfig
from ml.errors import JobFailedError, NotFoundError, UserInputError
from ml.source_commit import source_commit
from ml.tfstate import StackOutputs, read_stack_outputs


class SageMakerBackend:
    name = "sagemaker"

    def __init__(
        self,
        *,
        config: ProjectConfig,
        root: Path,
        outputs: StackOutputs,
        clients: AwsClients,
        state: BackendState | None = None,
        clock: Clock | None = None,
        builder: str | None = None,
        runner: images.Runner = images.run_command,
        on_log: LogSink | None = None,
    ) -> None:
        self.config, self.root, self.outputs, self.clients = config, root, outputs, clients
        self.state = state or BackendState.for_project(config=config, root=root)
        self.clock = clock or SystemClock()
        self.builder, self.runner = builder, runner
        self.on_log = on_log
        self.registry = Registry(sagemaker=clients.sagemaker, s3=clients.s3, config=config, outputs=outputs)
        self.hosting = Hosting(sagemaker=clients.sagemaker, config=config, outputs=outputs, clock=self.clock, on_log=on_log)
        self.scaling = Scaling(autoscaling=clients.autoscaling, config=config, on_log=on_log)
        self.schedule = MonitorSchedule(events=clients.events, rule=config.monitor_schedule_rule, on_log=on_log)

    @classmethod
    def from_project(cls, *, config: ProjectConfig, root: Path, retry_mode: str = "adaptive", **kwargs: Any) -> SageMakerBackend:
        """Session in the configured region with botocore retries, and names from Terraform state."""
        clients = make_clients(make_session(config), retry_mode=retry_mode)
        with aws_call(service="s3", action="reading Terraform state"):
            outputs = read_stack_outputs(config, root=root, s3_client=clients.s3 if config.state_backend == "s3" else None)
        return cls(config=config, root=root, outputs=outputs, clients=clients, **kwargs)

    def _log(self, line: str) -> None:
        if self.on_log is not None:
            self.on_log(line)

    # -- image -----------------------------------------------------------------------------
    def build_image(self, *, tag: str | None = None) -> ImageRecord:
        """Build, push under the commit tag (or reuse what ECR holds for it), move ``latest``.

        The tag is ``tag``, else the commit: ``$CODEBUILD_RESOLVED_SOURCE_VERSION`` inside CodeBuild
        (its source artifact has no ``.git``), else git's, marked ``-dirty`` for a changed tree.
        """
        tag = tag or source_commit(self.root, environ=os.environ).tag
        record = build_and_push(
            ecr=self.clients.ecr,
            repository_url=self.outputs.ecr_repository_url,
            repository_name=self.outputs.ecr_repository_name,
            project_name=self.config.project_name,
            context_dir=self.root / "ml" / "container",
            tag=tag,
            builder=self.builder or images.detect_builder(runner=self.runner),
            runner=self.runner,
            on_log=self._log,
        )
        self.state.record_image(record)
        self._log(f"pushed {record.uri}")
        return record

    # -- training and registry ---------------------------------------------------------------
    def _trainer(self) -> Trainer:
        c = self.clients
        return Trainer(sagemaker=c.sagemaker, s3=c.s3, logs=c.logs, config=self.config, outputs=self.outputs, clock=self.clock)

    def train(
        self,
        *,
        hyperparameters: Mapping[str, str] | None = None,
        data: str | None = None,
        job_name: str | None = None,
        on_log: LogSink | None = None,
        validation: str | None = None,
        image: str | None = None,
    ) -> TrainingJob:
        """Train on ``data`` (default: the data lake's iris.csv); ``validation`` adds a channel.

        The image, always ``repository@sha256:...``: ``image`` when given, else the pipeline's
        ECR source (``$CODEBUILD_SRC_DIR_image/imageDetail.json``), else the last image pushed
        from this checkout. The data is read from the data lake, in the pipeline too (its S3
        source is not handed to CodeBuild), so the job records the S3 object version.
        """
        chosen = images.training_image(explicit=image, environ=os.environ, last_image=self.state.last_image)
        params = {**self.config.hyperparameters, **(hyperparameters or {})}
        train_uri = data or f"s3://{self.outputs.datalake_bucket}/{DEFAULT_TRAIN_KEY}"
        return self._trainer().run(
            image=chosen,
            hyperparameters=params,
            train_uri=train_uri,
            validation_uri=validation,
            base_name=job_name,
            on_log=on_log or self.on_log,
        )

    def register(self, *, job_name: str, approval_status: str | None = None) -> ModelVersion:
        trainer = self._trainer()
        job = trainer._describe(job_name)
        if job is None:
            raise NotFoundError(f"training job {job_name} does not exist; run `invoke train` first")
        tags = trainer.tags(job)
        metrics = {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}
        registered = self.registry.register(job=job, tags=tags, metrics=metrics, approval_status=approval_status)
        image_pins.sync(ecr=self.clients.ecr, version=registered)
        return registered

    def approve(self, *, version: int, status: str = "Approved", note: str = "") -> ModelVersion:
        decided = self.registry.approve(version=version, status=status, note=note)
        image_pins.sync(ecr=self.clients.ecr, version=decided)
        return decided

    def list_versions(self) -> list[ModelVersion]:
        return self.registry.list_versions()

    # -- endpoints ---------------------------------------------------------------------------
    def _prepare(self, endpoint_name: str, version: int | None) -> tuple[ModelVersion, str]:
        chosen = select_version(self.registry.list_versions(), version)
        model = self.hosting.ensure_model(endpoint_name=endpoint_name, version=chosen)
        return chosen, self.hosting.ensure_config(endpoint_name=endpoint_name, version=chosen, model_name=model)

    def deploy_endpoint(self, *, endpoint_name: str, version: int | None = None) -> Endpoint:
        """Create the endpoint for the newest approved (or given) version; converge if it exists.

        An existing endpoint is moved with guardrails, never deleted and recreated, unless it is
        Failed: SageMaker allows only DeleteEndpoint on a failed endpoint, so it is deleted and
        created again (a failed first creation must not block every later deploy).
        """
        if self._settled_or_deleted(endpoint_name) is not None:
            return self.update_endpoint(endpoint_name=endpoint_name, version=version)
        return self._create(endpoint_name, version)

    def _create(self, endpoint_name: str, version: int | None) -> Endpoint:
        chosen, config_name = self._prepare(endpoint_name, version)
        final = self.hosting.create(endpoint_name=endpoint_name, config_name=config_name, version=chosen.version)
        self.scaling.register(endpoint_name)  # create() returns only once the endpoint is InService
        self.schedule.enable()
        self.state.record_deployment(endpoint_name, chosen.version)
        return self._record(final)

    def _settled_or_deleted(self, endpoint_name: str) -> dict[str, Any] | None:
        """The endpoint once it leaves transitional states; ``None`` if absent, or Failed and now deleted."""
        current = self.hosting.describe(endpoint_name)
        if current is None:
            return None
        if current["EndpointStatus"] in TRANSITIONAL:
            self._log(f"endpoint {endpoint_name} is {current['EndpointStatus']}; waiting for it to settle first")
            current = self.hosting.wait_settled(endpoint_name, deadline=CREATE_DEADLINE, what=f"endpoint {endpoint_name}")
        if current["EndpointStatus"] == "Failed":
            reason = current.get("FailureReason") or "no reason given"
            self._log(
                f"endpoint {endpoint_name} is Failed ({reason}); only DeleteEndpoint works on a failed endpoint, "
                "so it is deleted and created again"
            )
            self.hosting.delete_endpoint(endpoint_name)
            return None
        return current

    def update_endpoint(self, *, endpoint_name: str, version: int | None = None, policy: BlueGreenPolicy | None = None) -> Endpoint:
        if self.hosting.describe(endpoint_name) is None:
            raise NotFoundError(f"endpoint {endpoint_name} does not exist; create it with `invoke deploy --mode endpoint`")
        if self._settled_or_deleted(endpoint_name) is None:
            return self._create(endpoint_name, version)  # it was Failed: there is nothing to shift traffic from
        return self._update(endpoint_name=endpoint_name, version=version, policy=policy or BlueGreenPolicy.for_aws(self.config))

    def _update(self, *, endpoint_name: str, version: int | None, policy: BlueGreenPolicy, alarms: bool = True) -> Endpoint:
        current = self.hosting.describe(endpoint_name)
        if current is None:
            raise NotFoundError(f"endpoint {endpoint_name} does not exist; create it with `invoke deploy --mode endpoint`")
        chosen, config_name = self._prepare(endpoint_name, version)
        if current["EndpointStatus"] != "InService":
            current = self.hosting.wait_settled(endpoint_name, deadline=CREATE_DEADLINE, what=f"endpoint {endpoint_name}")
        if current["EndpointStatus"] != "InService":
            reason = current.get("FailureReason") or "no reason given"
            raise JobFailedError(
                f"endpoint {endpoint_name} is {current['EndpointStatus']} ({reason}); it must be InService to update; "
                "`invoke deploy --mode endpoint` recreates a Failed endpoint"
            )
        if current.get("EndpointConfigName") == config_name:
            self._log(f"endpoint {endpoint_name!r} already serves model version {chosen.version}; nothing to update")
            self.state.record_deployment(endpoint_name, chosen.version)
            return self._record(current)
        blue = version_of_config(str(current.get("EndpointConfigName", "")))
        rollout = Rollout(sink=self.on_log, endpoint=endpoint_name, version=chosen.version, blue_version=blue)
        # Alarms on the new fleet only: an alarm that the old fleet can trip would stop the very
        # deployment that fixes it (guardrail_alarms).
        cloudwatch = self.clients.cloudwatch
        alarm_names = (
            guardrail_alarms.put_new_fleet_alarms(cloudwatch, self.config, endpoint_name=endpoint_name, config_name=config_name)
            if alarms
            else ()
        )
        with self.scaling.around_update(endpoint_name, settled=lambda: self.hosting.describe(endpoint_name)):
            final = bluegreen.run_update(
                self.hosting,
                endpoint_name=endpoint_name,
                config_name=config_name,
                policy=policy,
                alarm_names=alarm_names,
                sagemaker=self.clients.sagemaker,
                rollout=rollout,
            )
        self.state.record_deployment(endpoint_name, chosen.version)
        return self._record(final)

    def rollback(self, *, endpoint_name: str, to_version: int | None = None) -> Endpoint:
        """Put the previously deployed version (or ``to_version``) back, all at once.

        No alarm auto-rollback here: the alarms are likely firing because of the version being
        replaced, and they would roll the rollback back onto it.
        """
        current = self.hosting.describe(endpoint_name)
        if current is None:
            raise NotFoundError(f"endpoint {endpoint_name} does not exist; nothing to roll back")
        serving = endpoint_record(current).version
        target = to_version if to_version is not None else self._previous_version(endpoint_name, serving)
        if target == serving:
            raise UserInputError(f"endpoint {endpoint_name} already serves version {serving}")
        policy = BlueGreenPolicy(
            traffic="ALL_AT_ONCE", step_percent=100, wait_seconds=0, baking_seconds=0, error_rate_percent=0, p99_latency_ms=1
        )
        return self._update(endpoint_name=endpoint_name, version=target, policy=policy, alarms=False)

    def _previous_version(self, endpoint_name: str, serving: int) -> int:
        history = [v for v in self.state.deployed_versions(endpoint_name) if v != serving]
        if history:
            return history[-1]
        older = [v.version for v in self.registry.list_versions() if v.version < serving and v.approval_status == "Approved"]
        if not older:
            raise NotFoundError(f"no earlier approved version to roll {endpoint_name} back to; pass --to VERSION")
        return max(older)

    def _record(self, described: dict[str, Any]) -> Endpoint:
        record = endpoint_record(described)
        history = self.state.deployed_versions(record.name)
        url = f"https://runtime.sagemaker.{self.config.region}.amazonaws.com/endpoints/{record.name}/invocations"
        return Endpoint.from_dict({**record.to_dict(), "url": url, "previous_versions": [v for v in history if v != record.version]})

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        described = self.hosting.describe(endpoint_name)
        if described is None:
            raise NotFoundError(f"endpoint {endpoint_name} does not exist; create it with `invoke deploy --mode endpoint`")
        return self._record(described)

    def invoke(self, *, endpoint_name: str, body: bytes, content_type: str = "text/csv", accept: str = "text/csv") -> Invocation:
        with aws_call(service="sagemaker", action=f"invoking endpoint {endpoint_name}"):
            reply = self.clients.runtime.invoke_endpoint(EndpointName=endpoint_name, Body=body, ContentType=content_type, Accept=accept)
        return Invocation(
            status_code=int(reply.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)),
            content_type=str(reply.get("ContentType", accept)),
            body=reply["Body"].read(),
            variant=str(reply.get("InvokedProductionVariant", "")),
        )

    def transform(self, *, data: str | None = None, output: str | None = None, version: int | None = None) -> TransformJob:
        chosen = select_version(self.registry.list_versions(), version)
        model = self.hosting.ensure_model(endpoint_name=transform_owner(self.config.project_name), version=chosen)
        transformer = self._transformer()
        input_uri = data or f"s3://{self.outputs.datalake_bucket}/{DEFAULT_TRAIN_KEY}"
        return transformer.run(model_name=model, version=chosen.version, input_uri=input_uri, output_uri=output)

    def _transformer(self) -> Transformer:
        return Transformer(
            sagemaker=self.clients.sagemaker,
            s3=self.clients.s3,
            config=self.config,
            outputs=self.outputs,
            clock=self.clock,
            on_log=self.on_log,
        )

    def teardown(self, *, endpoint_name: str | None = None) -> list[str]:
        """The endpoint with its configs and models, and the models batch transform made (except
        those a running transform job still uses)."""
        name = endpoint_name or self.outputs.endpoint_name
        scaled = self.scaling.deregister(name)
        deleted = ([f"scalable-target/{resource_id(name, self.config.variant_name)}"] if scaled else []) + self.hosting.teardown(name)
        deleted += guardrail_alarms.delete_new_fleet_alarms(self.clients.cloudwatch, name)
        deleted += self.schedule.disable()
        self.state.forget_endpoint(name)
        owner = transform_owner(self.config.project_name)
        return deleted + self.hosting.delete_models(owner, keep=self._transformer().active_models())
