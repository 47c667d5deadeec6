"""The README's main job: the whole model lifecycle on this machine, end to end.

train → register → approve → endpoint → test → train v2 → blue/green update → transform →
autoscaling under load → teardown, all with the local backend, so a new user sees every verb work in one command. Jobs
that do not depend on the endpoint (training v2, the transform) run beside it, not after it.
Each version is approved after its report is written (``ml.reports``: v2's beside v1, which
serves at that moment). The endpoint's router captures its traffic; before teardown the monitor
compares it with the served version's baseline, and the run ends by naming the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ml.backends import make_backend
from ml.backends.base import Backend
from ml.backends.local.backend import LocalBackend
from ml.backends.records import ModelVersion
from ml.config import ProjectConfig
from ml.data import write_iris_csv
from ml.demo import namespace
from ml.errors import JobFailedError, NotFoundError
from ml.lifecycle_monitor import drift_demo, monitor_traffic
from ml.lifecycle_scaling import show_scaling
from ml.progress import StageClock
from ml.report import sample_request
from ml.reports.approval import review

CONSOLE_COMMAND = "invoke console --demo"  # the main job's registry and reports, not the user's
BASE_STAGES = 8  # train, approve, deploy, test, train v2, update, test again, transform


def _check_predictions(*, backend: Backend, endpoint: str, data: Path, emit: Callable[[str], None]) -> None:
    body, labels = sample_request(data, rows=6)
    answer = backend.invoke(endpoint_name=endpoint, body=body)
    predictions = answer.body.decode().splitlines()
    if answer.status_code != 200 or len(predictions) != len(labels):
        raise JobFailedError(f"endpoint answered {answer.status_code}: {answer.body[:200]!r}")
    for label, predicted in zip(labels, predictions, strict=True):
        emit(f"    expected {label:<11} predicted {predicted}")


def _review(backend: LocalBackend, *, version: int, emit: Callable[[str], None], written: list[Path]) -> None:
    """Write the version's report (beside the serving one) and show the comparison, as an approver sees it."""
    seen = review(backend, version=version)
    for line in seen.lines():
        emit(f"  {line}")
    if seen.report is None:
        raise JobFailedError(f"no report for version {version}: {seen.problem}")
    written.append(seen.report.index)


def _register_and_approve(backend: LocalBackend, *, job_name: str, emit: Callable[[str], None], written: list[Path]) -> ModelVersion:
    """Register the job's model pending approval, write its report beside the serving one, approve it."""
    version = backend.register(job_name=job_name, approval_status="PendingManualApproval")
    emit(f"    {job_name} → version {version.version} ({version.approval_status})")
    _review(backend, version=version.version, emit=emit, written=written)
    return backend.approve(version=version.version, status="Approved", note="lifecycle demo")


def _prepare(backend: LocalBackend, *, endpoint: str, data: Path, emit: Callable[[str], None]) -> None:
    """The sample data, and no demo endpoint left by an earlier run (the user's own are never looked at)."""
    emit(
        f"the main job runs apart from your work: endpoint {endpoint}, model group {backend.config.model_package_group}, "
        f"under {backend.config.local_state_dir}/"
    )
    if not data.is_file():
        write_iris_csv(data)
    try:
        backend.describe_endpoint(endpoint_name=endpoint)
        emit(f"removing the demo endpoint {endpoint} left by an earlier `invoke lifecycle`")
        backend.teardown(endpoint_name=endpoint)
    except NotFoundError:
        pass


def _monitor_stages(backend: LocalBackend, *, clock: StageClock, root: Path, data: Path, emit: Callable[[str], None]) -> list[Path]:
    config, endpoint = backend.config, backend.config.endpoint_name
    with clock.stage("monitor the captured traffic, each version against its own baseline"):
        honest = monitor_traffic(backend, config=config, root=root, endpoint=endpoint, data=data, emit=emit)
    with clock.stage("drift demo: deliberately shifted traffic, and the monitor's BREACH"):
        return [honest, drift_demo(backend, config=config, root=root, endpoint=endpoint, data=data, emit=emit)]


def _name_reports(reports: list[Path], *, emit: Callable[[str], None]) -> None:
    emit(f"reports written ({len(reports)}):")
    for path in reports:
        emit(f"    {path}")


def run_lifecycle(*, config: ProjectConfig, root: Path, keep: bool = False, emit: Callable[[str], None] = print) -> StageClock:
    """Run every lifecycle verb once with the local backend, in its own namespace; returns the stage timings."""
    config = namespace(config)
    backend = LocalBackend(config=config, root=root)
    endpoint = config.endpoint_name
    data = root / "data" / "iris.csv"
    _prepare(backend, endpoint=endpoint, data=data, emit=emit)

    reports: list[Path] = []
    optional = (config.autoscaling_enabled, config.capture_enabled, config.capture_enabled, not keep)  # scaling, monitor, drift, teardown
    clock = StageClock(total=BASE_STAGES + sum(optional), emit=emit)
    # Training v2 needs nothing from the endpoint, so it runs while v1 is deployed and tested; the
    # transform (its own model server, as on SageMaker) needs only an approved v2, so it runs
    # while the endpoint moves to v2. Each is mostly process start-up (imports), one core each.
    # They use their own backend object, exactly like a second `invoke` beside this run, and the
    # update is unchanged: green is health-checked, then baked under its alarms.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lifecycle-background")
    try:
        with clock.stage("train v1"):
            job = backend.train(hyperparameters=config.hyperparameters, data=str(data))
            emit(f"    {job.name}: {job.metrics}")
        with clock.stage("register, review and approve the first model"):
            first = _register_and_approve(backend, job_name=job.name, emit=emit, written=reports)
        shallower = {**config.hyperparameters, "max_depth": "3"}
        beside = make_backend("local", config=config, root=root)
        training_v2 = background.submit(beside.train, hyperparameters=shallower, data=str(data))
        with clock.stage("deploy real-time endpoint"):
            live = backend.deploy_endpoint(endpoint_name=endpoint, version=first.version)
            emit(f"    {live.name} {live.status} at {live.url}")
        with clock.stage("test endpoint"):
            _check_predictions(backend=backend, endpoint=endpoint, data=data, emit=emit)
        with clock.stage("train v2 (shallower tree, started with the deploy) and register"):
            second = _register_and_approve(backend, job_name=training_v2.result().name, emit=emit, written=reports)
        out_dir = root / config.local_state_dir / "lifecycle-transform"
        transform = background.submit(beside.transform, data=str(data), output=str(out_dir), version=second.version)
        with clock.stage(f"blue/green update to version {second.version}"):
            updated = backend.update_endpoint(endpoint_name=endpoint, version=second.version)
            emit(f"    {updated.name} {updated.status}, serving version {updated.version}")
        with clock.stage("test endpoint after update"):
            _check_predictions(backend=backend, endpoint=endpoint, data=data, emit=emit)
        if config.autoscaling_enabled:
            with clock.stage(f"autoscaling under load ({config.autoscaling_min_instances}-{config.autoscaling_max_instances} instances)"):
                show_scaling(backend, endpoint=endpoint, data=data, most=config.autoscaling_max_instances, emit=emit)
        with clock.stage("batch transform (started with the update)"):
            result = transform.result()
            emit(f"    {result.records} records → {result.output_uri}")
        if config.capture_enabled:  # before teardown: the endpoint's life bounds what the monitor counts
            reports += _monitor_stages(backend, clock=clock, root=root, data=data, emit=emit)
    finally:
        background.shutdown(wait=True, cancel_futures=True)  # never leave a job running behind teardown
        if not keep:
            with clock.stage("teardown"):
                for line in backend.teardown(endpoint_name=endpoint):
                    emit(f"    {line}")
    _name_reports(reports, emit=emit)
    emit(f"lifecycle finished in {clock.elapsed:.1f}s")
    # The last line: where to look around afterwards (versions, reports, monitor runs).
    emit(f"look around in your browser: {CONSOLE_COMMAND}")
    return clock
