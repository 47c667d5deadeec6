"""Tasks for the model lifecycle. Run `invoke --list` to see them, `invoke --help TASK` for flags.

Every task is a thin wrapper: parse flags, call a function in ``ml/``, print the result. The
backend is ``local`` (this machine, no AWS account) unless ``--backend sagemaker`` is given; the
tasks never know which backend they drive. Names of AWS resources come from Terraform state.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from ml.errors import ByocError

if TYPE_CHECKING:
    from ml.backends.base import Backend
    from ml.config import ProjectConfig

ROOT = Path(__file__).resolve().parent
BACKEND_HELP = "local (default: this machine, no AWS) or sagemaker (AWS; names from Terraform state)"
RUNTIME_HELP = (
    "local only: process (default) runs the container's programs from the checkout; image builds or runs the real image with buildah"
)
F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(func: F) -> F:
    """Turn the project's errors into a one-line message and exit status 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ByocError as err:
            raise Exit(f"error: {err}", code=1) from err

    return wrapper  # type: ignore[return-value]


def _config() -> ProjectConfig:
    from ml.config import load_config

    return load_config(ROOT / "cdktf.json")


def _backend(backend: str, runtime: str = "process") -> Backend:
    from ml.backends import make_backend

    # on_event=print: what a verb decides on its own (a no-op update, a traffic shift) is shown.
    return make_backend(backend, config=_config(), root=ROOT, runtime=runtime, on_event=print)


def _show(record: Any) -> None:
    from ml.report import render

    print(render(record))


@task(help={"path": "where to write the CSV (default data/iris.csv)"})
@_user_errors
def data(c: Context, path: str = "data/iris.csv") -> None:
    """Write the iris sample data (label first, no header) from scikit-learn's bundled copy."""
    from ml.data import write_iris_csv

    rows = write_iris_csv(ROOT / path)
    print(f"wrote {rows} rows to {path}")


@task(
    help={
        "backend": BACKEND_HELP,
        "tag": "image tag (default: the full commit id: $CODEBUILD_RESOLVED_SOURCE_VERSION in CodeBuild, else git's, -dirty if changed)",
        "runtime": RUNTIME_HELP,
    }
)
@_user_errors
def build_image(c: Context, backend: str = "local", tag: str = "", runtime: str = "process") -> None:
    """Build the container image (and push it to ECR with --backend sagemaker); prints its digest."""
    _show(_backend(backend, runtime).build_image(tag=tag or None))


@task(
    iterable=["hyperparameter"],
    help={
        "backend": BACKEND_HELP,
        "data": "training data: a CSV file or folder locally, an s3:// URI on AWS (default: the sample data)",
        "hyperparameter": "NAME=VALUE, repeatable; overrides cdktf.json's hyperparameters",
        "register": "register the trained model as a new version (default on)",
        "runtime": RUNTIME_HELP,
    },
)
@_user_errors
def train(
    c: Context,
    backend: str = "local",
    data: str = "",
    hyperparameter: list[str] | None = None,
    register: bool = True,
    runtime: str = "process",
) -> None:
    """Train the model, streaming its logs, then register it as a new model version."""
    from ml.report import parse_pairs

    overrides = parse_pairs(hyperparameter or [], what="--hyperparameter")
    lifecycle = _backend(backend, runtime)
    job = lifecycle.train(hyperparameters=overrides, data=data or None, on_log=print)  # merged with cdktf.json's
    _show(job)
    if register:
        _show(lifecycle.register(job_name=job.name))


@task(
    help={
        "version": "the model version number (see `invoke versions`)",
        "status": "Approved (default) or Rejected",
        "note": "why: kept in the version's audit trail",
        "backend": BACKEND_HELP,
    }
)
@_user_errors
def approve(c: Context, version: str, status: str = "Approved", note: str = "", backend: str = "local") -> None:
    """Approve (or reject) a model version; only approved versions deploy by default."""
    # invoke passes a required positional argument as text, whatever its annotation says.
    if not version.isdigit():
        raise Exit(f"error: VERSION must be a model version number such as 3, not {version!r} (see `invoke versions`)", code=2)
    lifecycle = _backend(backend)
    if backend == "local":  # on AWS the deploy pipeline's approval notification links the report
        from ml.backends.local.backend import LocalBackend
        from ml.reports.approval import review

        assert isinstance(lifecycle, LocalBackend)
        print("\n".join(review(lifecycle, version=int(version)).lines()))
    _show(lifecycle.approve(version=int(version), status=status, note=note))


@task(help={"version": "the model version to report on (default: the newest)", "backend": BACKEND_HELP})
@_user_errors
def report(c: Context, version: int = 0, backend: str = "local") -> None:
    """Write a model version's training report, beside the version now serving; print where it is.

    Locally it lands under .byoc/reports/; on AWS in the data lake (reports/<group>/<version>/ and
    reports/<group>/candidate/, the page the deploy approval links to), its URI on the model package.
    """
    lifecycle = _backend(backend)
    number = version or max((v.version for v in lifecycle.list_versions()), default=0)
    if not number:
        raise Exit("error: no model versions registered yet; run `invoke train` first", code=1)
    if backend == "sagemaker":
        from ml.backends.sagemaker.backend import SageMakerBackend
        from ml.reports.aws import publish_report

        assert isinstance(lifecycle, SageMakerBackend)
        print(f"report of model version {number}: {publish_report(lifecycle, version=number)}")
        return
    from ml.backends.local.backend import LocalBackend
    from ml.reports.approval import review

    assert isinstance(lifecycle, LocalBackend)
    seen = review(lifecycle, version=number)
    print("\n".join(seen.lines()))
    if seen.report is None:
        raise Exit(f"error: no report for model version {number}: {seen.problem}", code=1)


@task(help={"backend": BACKEND_HELP})
@_user_errors
def versions(c: Context, backend: str = "local") -> None:
    """List the registered model versions, newest first, with metrics and approval status."""
    from ml.report import render_versions

    print(render_versions(_backend(backend).list_versions()))


@task(
    help={
        "mode": "endpoint (real-time), transform (batch) or update (blue/green on a live endpoint)",
        "version": "model version to deploy (default: the newest approved)",
        "backend": BACKEND_HELP,
        "data": "transform input: CSV file or folder locally, s3:// on AWS (default: the sample data)",
        "output": "transform output location (default: next to the input locally, the data lake on AWS)",
        "runtime": RUNTIME_HELP,
    }
)
@_user_errors
def deploy(
    c: Context, mode: str = "endpoint", version: int = 0, backend: str = "local", data: str = "", output: str = "", runtime: str = "process"
) -> None:
    """Deploy a model version: a real-time endpoint, a batch transform, or a blue/green update."""
    if mode not in ("endpoint", "update", "transform"):
        raise Exit(f"error: --mode must be endpoint, transform or update, not {mode!r}", code=2)
    lifecycle = _backend(backend, runtime)
    chosen = version or None
    name = _config().endpoint_name
    if mode == "endpoint":
        _show(lifecycle.deploy_endpoint(endpoint_name=name, version=chosen))
    elif mode == "update":
        _show(lifecycle.update_endpoint(endpoint_name=name, version=chosen))
    else:
        _show(lifecycle.transform(data=data or None, output=output or None, version=chosen))


@task(help={"backend": BACKEND_HELP, "rows": "how many sample rows to send (default 5)"})
@_user_errors
def test_endpoint(c: Context, backend: str = "local", rows: int = 5) -> None:
    """Send sample rows from data/iris.csv to the endpoint and print the predictions."""
    from ml.report import sample_request

    body, expected = sample_request(ROOT / "data" / "iris.csv", rows=rows)
    lifecycle, name = _backend(backend), _config().endpoint_name
    answer = lifecycle.invoke(endpoint_name=name, body=body)
    if answer.status_code != 200:
        # The answer alone (a router's 503) rarely says why; the endpoint's live status does.
        seen = lifecycle.describe_endpoint(endpoint_name=name)
        why = f"; endpoint {name} is {seen.status}: {seen.failure_reason}" if seen.failure_reason else ""
        raise Exit(f"error: endpoint answered {answer.status_code}: {answer.body.decode(errors='replace').strip()}{why}", code=1)
    for label, predicted in zip(expected, answer.body.decode().splitlines(), strict=False):
        print(f"expected {label:<12} predicted {predicted}")


@task(help={"to": "model version to go back to (default: the one served before the last update)", "backend": BACKEND_HELP})
@_user_errors
def rollback(c: Context, to: int = 0, backend: str = "local") -> None:
    """Put the endpoint back on the previous model version (or --to VERSION)."""
    _show(_backend(backend).rollback(endpoint_name=_config().endpoint_name, to_version=to or None))


@task(help={"backend": BACKEND_HELP})
@_user_errors
def describe(c: Context, backend: str = "local") -> None:
    """Show the endpoint: status, served version, variants and traffic weights."""
    _show(_backend(backend).describe_endpoint(endpoint_name=_config().endpoint_name))


@task(help={"new_url": "an endpoint whose port another program took since moves to a free port (a new URL)"})
@_user_errors
def restore(c: Context, new_url: bool = False) -> None:
    """Local: bring every recorded endpoint back after a restart, same version, weights and URL."""
    from ml.backends.local.backend import LocalBackend

    lifecycle = _backend("local")
    assert isinstance(lifecycle, LocalBackend)
    for line in lifecycle.restore(new_url=new_url):
        print(line)


@task(help={"backend": BACKEND_HELP, "all": "local only: every endpoint this project started, whatever its name"})
@_user_errors
def teardown(c: Context, backend: str = "local", all: bool = False) -> None:
    """Stop and delete the endpoint and everything this project started for it, nothing else."""
    lifecycle = _backend(backend)
    if all:
        from ml.backends.local.backend import LocalBackend

        if not isinstance(lifecycle, LocalBackend):
            raise Exit("error: --all is for the local backend; on AWS, teardown removes the configured endpoint", code=2)
        lines = lifecycle.teardown_all()
    else:
        lines = lifecycle.teardown(endpoint_name=_config().endpoint_name)
    for line in lines:
        print(line)


@task(
    help={
        "mode": "deploy stage: endpoint (default), transform or update",
        "approve": "approve the new model without asking (for non-interactive runs)",
    }
)
@_user_errors
def pipeline(c: Context, mode: str = "endpoint", approve: bool = False) -> None:
    """Run the build, train and deploy pipelines locally, with the commands their buildspecs run."""
    from ml.pipeline import run_pipeline

    run_pipeline(root=ROOT, mode=mode, approve=approve)


@task(help={"keep": "leave the endpoint running at the end instead of tearing it down"})
@_user_errors
def lifecycle(c: Context, keep: bool = False) -> None:
    """The main job: train, register, approve, endpoint, test, blue/green, transform, teardown, locally."""
    from ml.lifecycle import run_lifecycle

    run_lifecycle(config=_config(), root=ROOT, keep=keep)


@task(
    help={
        "pipelines": "comma-separated: build, train, deploy (default all three); a later one brings in what it needs "
        "(train: build; deploy: build, train, approve, rollback, teardown)",
        "fault": "inject a failure after the main flow: training-failed, transform-failed, endpoint-failed, update-rolled-back, "
        "a comma-separated list, or all",
        "keep": "keep the rehearsal's working folder (exports, registry storage, logs) and print where it is",
        "infrastructure": "rehearse `cdktf deploy` instead: apply the three stacks with the real Terraform AWS provider against "
        "the fakes, re-plan (no changes), invoke teardown, terraform destroy",
    }
)
@_user_errors
def rehearse(c: Context, pipelines: str = "build,train,deploy", fault: str = "", keep: bool = False, infrastructure: bool = False) -> None:
    """Rehearse the pipelines as CodeBuild runs them: exported tree, the stacks' variables, the buildspecs'
    own phases, against moto with faithful fakes and a real loopback registry (see docs/rehearsal.md)."""
    import tempfile

    if infrastructure:
        _rehearse_infrastructure(keep=keep)
        return
    from tools.rehearsal.plan import PIPELINES, parse_faults, plan
    from tools.rehearsal.run import report, run_rehearsal

    chosen = tuple(p.strip() for p in pipelines.split(",") if p.strip())
    if unknown := [p for p in chosen if p not in PIPELINES]:
        raise Exit(f"error: --pipelines takes {', '.join(PIPELINES)}, not {', '.join(unknown)}", code=2)
    stages = plan(faults=parse_faults(fault), pipelines=chosen)  # type: ignore[arg-type]
    synth_dir = _fresh_synth()
    workdir = Path(tempfile.mkdtemp(prefix="byoc-rehearsal-")) if keep else None
    results = run_rehearsal(root=ROOT, synth_dir=synth_dir, stages=stages, region=_config().region, on_line=print, keep=workdir)
    print(report(results, load=" ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])))
    if workdir is not None:
        print(f"kept {workdir}")
    if not all(r.passed for r in results):
        raise Exit("error: the rehearsal found unexpected results (see FAIL above)", code=1)


def _rehearse_infrastructure(*, keep: bool) -> None:
    from tools.rehearsal.infrastructure import rehearse_infrastructure, report

    result = rehearse_infrastructure(root=ROOT, synth_dir=_fresh_synth(), region=_config().region, keep=keep, on_line=print)
    print(report(result, load=" ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])))
    if not result.passed:
        raise Exit("error: the infrastructure rehearsal failed (see FAIL above)", code=1)


def _fresh_synth() -> Path:
    """cdktf.out when it is newer than everything that shapes it, else a new synthesis (~20 s)."""
    out = ROOT / "cdktf.out"
    stacks = list((out / "stacks").glob("*/cdk.tf.json"))
    sources = [
        ROOT / "main.py",
        ROOT / "cdktf.json",
        *ROOT.glob("modules/**/*.py"),
        *ROOT.glob("buildspecs/*.yml"),
        ROOT / "ml" / "config.py",
    ]
    if len(stacks) < 3 or min(p.stat().st_mtime for p in stacks) < max(p.stat().st_mtime for p in sources):
        from main import synth as synthesize

        synthesize(config=_rehearsal_config(), outdir=str(out))
    return out


def _rehearsal_config() -> ProjectConfig:
    """cdktf.json, with a placeholder approver when it names none: a rehearsal subscribes nobody,
    while a real deploy refuses to synthesize without one (ProjectConfig.require_deployable)."""
    from dataclasses import replace

    config = _config()
    if config.deploy_approval_required and not config.deploy_approval_email:
        print("note: cdktf.json names no deploy_approval_email; the rehearsal uses approver@rehearsal.invalid")
        return replace(config, deploy_approval_email="approver@rehearsal.invalid")
    return config


@task(
    help={
        "backend": BACKEND_HELP + "; local reads <local_state_dir>/<capture_prefix>, sagemaker the data lake",
        "endpoint": "endpoint whose capture to read (default: the project's endpoint)",
        "hours": "window: the last N hours up to --until (default monitor_window_hours from cdktf.json)",
        "since": "window start, ISO 8601 UTC such as 2026-11-28T06:00 (instead of --hours)",
        "until": "window end, ISO 8601 UTC (default now)",
        "capture_dir": "read captured files from this directory instead (SageMaker's layout under it)",
        "baseline": "compare with this baseline (a model/baseline folder or a model.tar.gz) instead of the served version's",
        "report": "where to write the HTML report (default <local_state_dir>/reports/monitor-<endpoint>-<until>.html)",
    }
)
@_user_errors
def monitor(
    c: Context,
    backend: str = "local",
    endpoint: str = "",
    hours: float = 0.0,
    since: str = "",
    until: str = "",
    capture_dir: str = "",
    report: str = "",
    baseline: str = "",
) -> None:
    """Compare captured traffic with the training baseline of the version that served it; exit 3 on a breach.

    Per feature: missing values, values outside the training range, drift (PSI); and the
    predicted classes against the training labels. Prints a table and writes an HTML report.
    """
    from ml.monitor.project import BREACH_EXIT_CODE, run_project_monitor
    from ml.monitor.window import window_from

    config = _config()
    window = window_from(since=since, until=until, hours=hours, default_hours=config.monitor_window_hours)
    outcome = run_project_monitor(
        config=config,
        root=ROOT,
        backend=backend,
        window=window,
        endpoint=endpoint,
        capture_dir=capture_dir,
        report=report,
        baseline=baseline,
    )
    print(outcome.table, end="")
    print(f"report: {outcome.html}" + (f" (and {outcome.published})" if outcome.published else ""))
    if outcome.breached:
        raise Exit(f"monitor: {len(outcome.report.breaches)} threshold(s) breached", code=BREACH_EXIT_CODE)


@task(help={"backend": "sagemaker: check the AWS account before the first `cdktf deploy` (local has nothing to check)"})
@_user_errors
def preflight(c: Context, backend: str = "sagemaker") -> None:
    """Read-only checks before the first deploy: credentials, Terraform, CodeCommit, quotas, log groups."""
    if backend != "sagemaker":
        raise Exit("error: preflight checks an AWS account: use --backend sagemaker (local mode needs nothing)", code=2)
    from ml.backends.sagemaker.clients import make_session
    from ml.preflight import NO_CREDENTIALS, NoCredentialsError, managed_log_groups, run_checks, table

    config = _config()
    session = make_session(config)
    try:
        s3 = session.client("s3") if config.state_backend == "s3" else None
        checks = run_checks(session=session, config=config, managed_log_groups=managed_log_groups(config, root=ROOT, s3_client=s3))
    except NoCredentialsError as err:
        raise Exit(f"error: {NO_CREDENTIALS}", code=1) from err
    print(table(checks))
    if any(check.status == "fail" for check in checks):
        raise Exit("error: preflight found blockers (FAIL above); fix them before `cdktf deploy`", code=1)


@task(
    help={
        "teardown": "first tear down this project's endpoints (otherwise destroy refuses while one exists)",
        "empty": "delete the contents of the buckets, the image repository and the model package group (irreversible)",
        "yes": "do not ask before destroying (cdktf destroy --auto-approve)",
    }
)
@_user_errors
def destroy(c: Context, teardown: bool = False, empty: bool = False, yes: bool = False) -> None:
    """Destroy the three stacks (cdktf destroy), after checking nothing of the project still runs."""
    from ml.destroy import destroy_project

    destroy_project(
        config=_config(),
        root=ROOT,
        teardown=teardown,
        empty=empty,
        auto_approve=yes,
        run_cdktf=lambda argv: c.run(" ".join(argv), pty=not yes, echo=True),
        log=print,
    )


@task(help={"outdir": "where to write the Terraform JSON (default cdktf.out)"})
@_user_errors
def synth(c: Context, outdir: str = "cdktf.out") -> None:
    """Synthesize the three pipeline stacks to Terraform JSON (what `cdktf synth` does)."""
    from ml.nodejs import require_node

    require_node(root=ROOT)  # before jsii starts: an old Node gets one clear line, not a banner
    from main import synth as synthesize

    synthesize(config=_config(), outdir=str(ROOT / outdir))
    print(f"synthesized BuildPipelineStack, TrainPipelineStack, DeployPipelineStack into {outdir}/stacks/")


@task
@_user_errors
def outputs(c: Context) -> None:
    """Print the deployed stacks' outputs (bucket, role, repository, topics) from Terraform state."""
    from ml.tfstate import outputs_table

    config = _config()
    s3_client = None
    if config.state_backend == "s3":
        from ml.backends.sagemaker.clients import make_clients, make_session

        s3_client = make_clients(make_session(config)).s3
    print(outputs_table(config, root=ROOT, s3_client=s3_client), end="")


@task(
    help={
        "target": "serving (HTTP throughput, latency), transform (batch rows/s, memory), monitor (time, memory on captured rows), "
        "capture (data capture's cost behind the router), recovery (a supervised endpoint healing, supervision's memory) "
        "or capacity (concurrent clients one endpoint holds)",
        "rows": "transform or monitor rows (default 1,000,000)",
        "rounds": "serving: rounds per cell, the median is reported (default 3); recovery: failures per kind",
        "quick": "serving: one 2 s round per cell (about 3 minutes instead of 13); recovery: one round; capacity: 2 s steps",
        "clients": "capacity: the client counts to step through, rising (default 64,256,1000,2000,4000)",
    }
)
@_user_errors
def bench(c: Context, target: str = "serving", rows: int = 1_000_000, rounds: int = 3, quick: bool = False, clients: str = "") -> None:
    """Run a benchmark and print its table (also written under docs/benchmarks/)."""
    if target == "serving":
        from tools.bench.serving import run_serving_bench

        print(run_serving_bench(root=ROOT, repeats=1 if quick else rounds, duration_s=2 if quick else 5, capture_cost=True)["markdown"])
    elif target == "transform":
        from tools.bench.transform import run_transform_bench

        run_transform_bench(root=ROOT, rows=rows)
    elif target == "monitor":
        from tools.bench.monitor import run_monitor_bench

        print(run_monitor_bench(root=ROOT, rows=rows), end="")
    elif target == "capture":
        from tools.bench.capture_cost import run_capture_cost

        print(run_capture_cost(root=ROOT, duration_s=2 if quick else 5, rounds=1 if quick else rounds), end="")
    elif target == "recovery":
        from tools.bench.recovery import run_recovery_bench

        print(run_recovery_bench(root=ROOT, rounds=1 if quick else rounds), end="")
    elif target == "capacity":
        from tools.bench.capacity import STEPS, run_capacity_bench

        steps = tuple(int(n) for n in clients.split(",")) if clients else STEPS
        print(run_capacity_bench(root=ROOT, steps=steps, duration_s=2 if quick else 5), end="")
    else:
        raise Exit(f"error: --target must be serving, transform, monitor, capture, recovery or capacity, not {target!r}", code=2)


@task(help={"fast": "skip the slow groups (image build, load tests)"})
def check(c: Context, fast: bool = False) -> None:
    """Run every quality gate: ruff lint and format, mypy --strict, and the test suite."""
    c.run("ruff check .", echo=True)
    c.run("ruff format --check .", echo=True)
    c.run("mypy", echo=True)
    marker = ' -m "not image and not slow"' if fast else ""
    c.run(f"{sys.executable} -m pytest{marker}", echo=True, pty=False)


ns = Collection(
    data,
    build_image,
    train,
    approve,
    report,
    versions,
    deploy,
    test_endpoint,
    rollback,
    describe,
    restore,
    teardown,
    pipeline,
    lifecycle,
    rehearse,
    monitor,
    preflight,
    destroy,
    synth,
    outputs,
    bench,
    check,
)
ns.configure({"run": {"echo": False}})
