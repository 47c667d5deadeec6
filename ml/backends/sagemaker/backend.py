"""``SageMakerBackend``: the lifecycle verbs, composed from the small modules beside it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.backends.base import (
    ROLLBACK_POLICY,
    BlueGreenPolicy,
    LogSink,
    nothing_to_roll_back,
    report_target,
    rollback_target,
    select_version,
)
from ml.backends.records import Endpoint, ImageRecord, Invocation, ModelVersion, ReportRecord, TrainingJob, TransformJob
from ml.backends.rollout import Rollout
from ml.backends.rollout_journal import RolloutJournal, journal_path
from ml.backends.sagemaker import bluegreen, deployments, guardrail_alarms, image_pins, images
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
from ml.errors import DeployRolledBackError, JobFailedError, NotFoundError
from ml.gitrev import source_revision
from ml.names import VARIANT_NAME
from ml.tfstate import StackOutputs, read_stack_outputs


class SageMakerBackend:
    name = "sagemaker"
    local_verbs = None  # no verb of one machine: AWS restores its endpoints, teardown removes the configured one

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
        tag = tag or source_revision(self.root, environ=os.environ).tag
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

    def report(self, *, version: int | None = None) -> ReportRecord:
        """The report in the data lake (reports/<group>/<version>/ and reports/<group>/candidate/, the page
        the deploy approval links to), its URI on the model package."""
        from ml.reports.aws import publish_report  # imports this module: loaded only when a report is asked for

        number = report_target(self.registry.list_versions(), version)
        uri = publish_report(self, version=number)
        return ReportRecord(version=number, location=uri, lines=(f"report of model version {number}: {uri}",))

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
        current = self._replace_failed(endpoint_name, self._settled(endpoint_name, self.hosting.describe(endpoint_name)))
        if current is None:
            return self._create(endpoint_name, version)
        return self._update(endpoint_name=endpoint_name, current=current, version=version, policy=BlueGreenPolicy.for_aws(self.config))

    def _remember(self, endpoint_name: str, *, start: datetime, version: int) -> None:
        """Append a settled deploy to the endpoint's history: the monitor attributes captured records by it."""
        described = self.hosting.describe(endpoint_name)
        if described is not None:
            settled = datetime.now(UTC)  # after the wait saw it settle: the window of both fleets errs wide, never short
            deployments.record(
                self.clients.sagemaker,
                endpoint_arn=str(described["EndpointArn"]),
                deployment=deployments.Deployment(start=start, settled=settled, version=version),
            )

    def _create(self, endpoint_name: str, version: int | None) -> Endpoint:
        chosen, config_name = self._prepare(endpoint_name, version)
        start = datetime.now(UTC)
        final = self.hosting.create(endpoint_name=endpoint_name, config_name=config_name, version=chosen.version)
        self._remember(endpoint_name, start=start, version=chosen.version)
        self.scaling.register(endpoint_name)  # create() returns only once the endpoint is InService
        self.schedule.enable()
        self.state.record_deployment(endpoint_name, chosen.version)
        return self._record(final)

    def _existing(self, endpoint_name: str) -> dict[str, Any]:
        """The one DescribeEndpoint a verb on an existing endpoint makes before it acts (polls follow
        only while the endpoint is changing); NotFoundError when there is none."""
        current = self._settled(endpoint_name, self.hosting.describe(endpoint_name))
        if current is None:
            raise NotFoundError(f"endpoint {endpoint_name} does not exist; create it with `invoke deploy --mode endpoint`")
        return current

    def _settled(self, endpoint_name: str, described: dict[str, Any] | None) -> dict[str, Any] | None:
        """``described`` once the endpoint leaves every transitional status; ``None`` when it does not exist."""
        if described is None or described["EndpointStatus"] not in TRANSITIONAL:
            return described
        self._log(f"endpoint {endpoint_name} is {described['EndpointStatus']}; waiting for it to settle first")
        return self.hosting.wait_settled(endpoint_name, deadline=CREATE_DEADLINE, what=f"endpoint {endpoint_name}")

    def _replace_failed(self, endpoint_name: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
        """A Failed endpoint is deleted (``None``: create it again); any other is returned as it is."""
        if current is None or current["EndpointStatus"] != "Failed":
            return current
        reason = current.get("FailureReason") or "no reason given"
        self._log(
            f"endpoint {endpoint_name} is Failed ({reason}); only DeleteEndpoint works on a failed endpoint, "
            "so it is deleted and created again"
        )
        self.hosting.delete_endpoint(endpoint_name)
        return None

    def update_endpoint(self, *, endpoint_name: str, version: int | None = None, policy: BlueGreenPolicy | None = None) -> Endpoint:
        current = self._replace_failed(endpoint_name, self._existing(endpoint_name))
        if current is None:
            return self._create(endpoint_name, version)  # it was Failed: there is nothing to shift traffic from
        return self._update(
            endpoint_name=endpoint_name, current=current, version=version, policy=policy or BlueGreenPolicy.for_aws(self.config)
        )

    def _update(self, *, endpoint_name: str, current: dict[str, Any], version: int | None, policy: BlueGreenPolicy) -> Endpoint:
        """Move the settled endpoint ``current`` (as last described) to ``version`` under ``policy``."""
        chosen, config_name = self._prepare(endpoint_name, version)
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
        journal = RolloutJournal(journal_path(state_dir=self.root / self.config.local_state_dir, backend=self.name, endpoint=endpoint_name))
        rollout = Rollout(sink=self.on_log, endpoint=endpoint_name, version=chosen.version, blue_version=blue, journal=journal)
        # Alarms on the new fleet only: an alarm that the old fleet can trip would stop the very
        # deployment that fixes it (guardrail_alarms). A rollback watches none (ROLLBACK_POLICY).
        alarm_names = (
            guardrail_alarms.put_new_fleet_alarms(
                self.clients.cloudwatch, self.config, endpoint_name=endpoint_name, config_name=config_name
            )
            if policy.auto_rollback
            else ()
        )
        start = datetime.now(UTC)
        with self.scaling.around_update(endpoint_name, settled=lambda: self.hosting.describe(endpoint_name)):
            try:
                final = bluegreen.run_update(
                    self.hosting,
                    endpoint_name=endpoint_name,
                    config_name=config_name,
                    policy=policy,
                    alarm_names=alarm_names,
                    sagemaker=self.clients.sagemaker,
                    rollout=rollout,
                )
            except DeployRolledBackError:
                self._remember(endpoint_name, start=start, version=blue)  # green answered some traffic, then blue again
                raise
        self._remember(endpoint_name, start=start, version=chosen.version)
        self.state.record_deployment(endpoint_name, chosen.version)
        return self._record(final)

    def rollback(self, *, endpoint_name: str, to_version: int | None = None) -> Endpoint:
        """The contract's rollback (:meth:`ml.backends.base.Backend.rollback`): no alarm auto-rollback,
        because the alarms are likely firing for the version being replaced and would roll the
        rollback back onto it; the history is this checkout's record of the endpoint's deployments."""
        current = self._existing(endpoint_name)
        serving = endpoint_record(current).version
        history = self.state.deployed_versions(endpoint_name)
        versions = self.registry.list_versions()
        chosen = rollback_target(versions, endpoint_name=endpoint_name, serving=serving, history=history, to_version=to_version)
        if chosen.version == serving:
            self._log(nothing_to_roll_back(endpoint_name, serving))
            return self._record(current)
        return self._update(endpoint_name=endpoint_name, current=current, version=chosen.version, policy=ROLLBACK_POLICY)

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
            logs=self.clients.logs,
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
        deleted = ([f"scalable-target/{resource_id(name, VARIANT_NAME)}"] if scaled else []) + self.hosting.teardown(name)
        deleted += guardrail_alarms.delete_new_fleet_alarms(self.clients.cloudwatch, name)
        deleted += self.schedule.disable()
        self.state.forget_endpoint(name)
        owner = transform_owner(self.config.project_name)
        return deleted + self.hosting.delete_models(owner, keep=self._transformer().active_models())
