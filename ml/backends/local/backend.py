"""``LocalBackend``: the lifecycle verbs on one machine, composed from the modules beside it.

The endpoint machinery (router, supervisor, blue/green, recovery) and the transform's are
imported by the verbs that use them, not with this module: a command pays only for its own (a
batch transform starts in about half the time without the endpoint's imports).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ml.backends.base import (
    ROLLBACK_POLICY,
    BlueGreenPolicy,
    LocalVerbs,
    LogSink,
    nothing_to_roll_back,
    report_target,
    rollback_target,
    select_version,
)
from ml.backends.local import runtime
from ml.backends.local.clock import stamp
from ml.backends.local.layout import Layout, safe_name
from ml.backends.local.programs import Programs
from ml.backends.local.registry import Registry
from ml.backends.local.store import StateStore
from ml.backends.records import Endpoint, ImageRecord, Invocation, ModelVersion, ReportRecord, TrainingJob, TransformJob
from ml.config import ProjectConfig
from ml.errors import NotFoundError, UserInputError

if TYPE_CHECKING:
    from ml.backends.local.endpoint_state import Runtime
    from ml.backends.local.endpoints import Endpoints

RUNTIMES = ("process", "image")


class LocalBackend:
    """SageMaker's verbs, run locally. ``programs`` replaces how train/serve start (tests use it)."""

    name = "local"

    def __init__(
        self,
        *,
        config: ProjectConfig,
        root: Path,
        runtime: str = "process",
        programs: Programs | None = None,
        on_event: LogSink | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise UserInputError(f"--runtime must be process or image, not {runtime!r}")
        self.config = config
        self.root = root.resolve()
        self.runtime: Runtime = "image" if runtime == "image" else "process"
        self.layout = Layout.for_project(root=self.root, state_dir=config.local_state_dir)
        self.store = StateStore(layout=self.layout)
        self.registry = Registry(store=self.store, group=config.model_package_group)
        self._programs = programs
        self._on_event = on_event

    @cached_property
    def endpoints(self) -> Endpoints:
        """Built once, on first use: what an endpoint runs with is on its record (created from this config)."""
        from ml.backends.local.endpoints import Endpoints

        return Endpoints(store=self.store, layout=self.layout, programs=lambda: self.programs, say=self._say)

    def _say(self, line: str) -> None:
        if self._on_event is not None:
            self._on_event(line)

    @property
    def local_verbs(self) -> LocalVerbs:
        """This backend's own verbs (review, restore, teardown_all): it has them all."""
        return self

    @property
    def programs(self) -> Programs:
        if self._programs is None:
            self._programs = runtime.programs_for(runtime=self.runtime, layout=self.layout, store=self.store)
        return self._programs

    def build_image(self, *, tag: str | None = None) -> ImageRecord:
        return runtime.build(runtime=self.runtime, layout=self.layout, store=self.store, config=self.config, tag=tag)

    def train(
        self,
        *,
        hyperparameters: Mapping[str, str] | None = None,
        data: str | None = None,
        job_name: str | None = None,
        on_log: LogSink | None = None,
    ) -> TrainingJob:
        from ml.backends.local.training import run_training

        name = safe_name(job_name or f"{self.config.project_name}-{stamp()}", what="training job name")
        params = {**self.config.hyperparameters, **(hyperparameters or {})}
        return run_training(
            store=self.store,
            layout=self.layout,
            programs=self.programs,
            job_name=name,
            hyperparameters=params,
            data=self._data(data),
            max_runtime_s=self.config.training_max_runtime_seconds,
            on_log=on_log,
        )

    def describe_training_job(self, *, job_name: str) -> TrainingJob:
        from ml.backends.local.training import KIND as TRAINING_KIND

        record = self.store.get(TRAINING_KIND, safe_name(job_name, what="training job name"))
        if record is None:
            raise NotFoundError(f"training job {job_name!r} does not exist; `invoke train` starts one")
        return TrainingJob.from_dict(record)

    def register(self, *, job_name: str, approval_status: str | None = None) -> ModelVersion:
        job = self.describe_training_job(job_name=job_name)
        return self.registry.register(job=job, approval_status=approval_status or self.config.model_approval_status)

    def approve(self, *, version: int, status: str = "Approved", note: str = "") -> ModelVersion:
        return self.registry.approve(version=version, status=status, note=note)

    def list_versions(self) -> list[ModelVersion]:
        return self.registry.versions()

    def report(self, *, version: int | None = None) -> ReportRecord:
        """The report under ``.byoc/reports/``, and the metrics beside the serving version's."""
        from ml.reports.approval import review  # matplotlib and the scorer load only for a report

        number = report_target(self.registry.versions(), version)
        seen = review(self, version=number)
        location = str(seen.report.index) if seen.report is not None else ""
        return ReportRecord(version=number, location=location, lines=tuple(seen.lines()), problem=seen.problem)

    def review(self, *, version: int) -> ReportRecord:
        """Local only (:class:`LocalVerbs`): what ``invoke approve`` prints before the decision."""
        return self.report(version=version)

    def deploy_endpoint(self, *, endpoint_name: str, version: int | None = None) -> Endpoint:
        from ml.backends.local import hosting, recovery
        from ml.backends.local.endpoint_state import EndpointSettings

        existing = recovery.current(self.endpoints, endpoint_name)
        if existing is not None and existing.status != "Failed" and not self.endpoints.alive(endpoint_name):
            # Recorded but not running (the machine restarted): back on its URL first, then the contract.
            for line in recovery.restore(self.endpoints, name=endpoint_name)[1]:
                self.endpoints.say(line)
        if existing is not None and existing.status != "Failed":
            # The contract: an existing endpoint is moved blue/green, never an error or a re-create.
            return self.update_endpoint(endpoint_name=endpoint_name, version=version)
        chosen = select_version(self.registry.versions(), version)
        settings = EndpointSettings.for_local(self.config, layout=self.layout, runtime=self.runtime)
        return hosting.create(self.endpoints, name=endpoint_name, version=chosen, settings=settings)

    def update_endpoint(self, *, endpoint_name: str, version: int | None = None, policy: BlueGreenPolicy | None = None) -> Endpoint:
        from ml.backends.local import bluegreen

        self.endpoints.require(endpoint_name, verb="update")  # the endpoint's absence is the more useful error
        chosen = select_version(self.registry.versions(), version)
        policy = policy or BlueGreenPolicy.for_local(self.config)
        return bluegreen.update(self.endpoints, name=endpoint_name, version=chosen, policy=policy, on_event=self._on_event)

    def rollback(self, *, endpoint_name: str, to_version: int | None = None) -> Endpoint:
        from ml.backends.local import bluegreen
        from ml.backends.local.endpoint_state import served_versions

        state = self.endpoints.require(endpoint_name, verb="roll back")
        chosen = rollback_target(
            self.registry.versions(),
            endpoint_name=endpoint_name,
            serving=state.version,
            history=state.previous_versions,
            to_version=to_version,
        )
        if chosen.version == state.version and state.status == "InService":
            self.endpoints.say(nothing_to_roll_back(endpoint_name, chosen.version))
            return state.public()
        served = ", ".join(str(v) for v in served_versions(state.history)) or str(state.version)
        self.endpoints.say(f"endpoint {endpoint_name!r} has served versions {served} (oldest first); rolling back to {chosen.version}")
        # The contract's rollback policy: all at once, no alarms, still health-checked, zero downtime.
        return bluegreen.update(
            self.endpoints, name=endpoint_name, version=chosen, policy=ROLLBACK_POLICY, kind="rolled back", on_event=self._on_event
        )

    def transform(
        self, *, data: str | None = None, output: str | None = None, version: int | None = None, server_workers: int | None = None
    ) -> TransformJob:
        """Batch transform; ``server_workers`` (local only) trades memory for rows/s, default one per core."""
        from ml.backends.local.transform import filters
        from ml.backends.local.transform.job import Settings
        from ml.backends.local.transform.runner import run_transform_job

        chosen = select_version(self.registry.versions(), version)
        source = self._data(data)
        target = Path(output) if output else (source if source.is_dir() else source.parent)
        settings = Settings(
            max_payload_mb=self.config.transform_max_payload_mb,
            max_concurrent=self.config.transform_max_concurrent,
            input_filter=filters.parse_selector(self.config.transform_input_filter),
            output_filter=filters.parse_selector(self.config.transform_output_filter),
            join_input=self.config.transform_join_source == "Input",
            server_workers=server_workers,
            instances=self.config.transform_instance_count,
            split_parts=self.config.split_objects,
        )
        return run_transform_job(
            store=self.store,
            layout=self.layout,
            programs=self.programs,
            version=chosen,
            data=source,
            output_dir=target if target.is_absolute() else self.root / target,
            settings=settings,
            job_name=f"{self.config.project_name}-transform-{stamp()}",
        )

    def invoke(self, *, endpoint_name: str, body: bytes, content_type: str = "text/csv", accept: str = "text/csv") -> Invocation:
        from ml.backends.local import hosting

        return hosting.invoke(self.endpoints, name=endpoint_name, body=body, content_type=content_type, accept=accept)

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        from ml.backends.local import hosting

        return hosting.describe(self.endpoints, name=endpoint_name)

    def restore(self, *, new_url: bool = False) -> list[str]:
        """Local only: every recorded endpoint whose processes are gone, back with its version, weights and URL.

        ``new_url``: an endpoint whose port another program took moves to a free one (else that is an error).
        """
        from ml.backends.local import recovery

        names = self.endpoints.names()
        if not names:
            return ["no endpoints are recorded; nothing to restore (`invoke deploy --mode endpoint` creates one)"]
        lines: list[str] = []
        for name in names:
            lines += recovery.restore(self.endpoints, name=name, new_url=new_url)[1]
        return lines

    def teardown(self, *, endpoint_name: str | None = None) -> list[str]:
        """The named (default: the configured) endpoint, plus transform servers of dead runs."""
        from ml.backends.local import hosting
        from ml.backends.local.transform.runner import stop_orphans

        lines = hosting.teardown(self.endpoints, name=endpoint_name or self.config.endpoint_name)
        return lines + stop_orphans(self.store, self.layout)

    def teardown_all(self) -> list[str]:
        """Local only: every endpoint of this project, whatever its name (`invoke teardown --all`)."""
        from ml.backends.local import hosting
        from ml.backends.local.transform.runner import stop_orphans

        lines = hosting.teardown(self.endpoints, name=None)
        return lines + stop_orphans(self.store, self.layout)

    def _data(self, data: str | None) -> Path:
        if data:
            path = Path(data)
            return path if path.is_absolute() else self.root / path
        sample = self.root / "data" / "iris.csv"
        if not sample.exists():
            from ml.data import write_iris_csv  # imports scikit-learn: only when the sample is missing

            write_iris_csv(sample)
        return sample
