"""Tasks for the model lifecycle. Run `invoke --list` to see them, `invoke --help TASK` for flags.

Every task is a thin wrapper: parse flags, call a function in ``ml/``, print the result. The
backend is ``local`` (this machine, no AWS account) unless ``--backend sagemaker`` is given, or the
environment sets ``INVOKE_BACKEND=sagemaker`` (invoke's own configuration: the default is set once,
in ``ns.configure`` below). The tasks never know which backend they drive: local-only verbs are a
capability the backend offers (``Backend.local_verbs``). Names of AWS resources come from Terraform
state. The benchmarks are the ``bench`` collection (``tools/bench/tasks.py``).
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
from tools.bench.tasks import bench

if TYPE_CHECKING:
    from ml.backends.base import Backend, LocalVerbs
    from ml.config import ProjectConfig

ROOT = Path(__file__).resolve().parent
DEFAULT_BACKEND = "local"  # invoke's config key `backend`; INVOKE_BACKEND=sagemaker changes it for a shell or a build
BACKEND_HELP = (
    f"{DEFAULT_BACKEND} (default: this machine, no AWS) or sagemaker (AWS; names from Terraform state); "
    "INVOKE_BACKEND=sagemaker sets the default"
)
RUNTIME_HELP = (
    "local only: process (default) runs the container's programs from the checkout; image builds or runs the real image with buildah"
)
F = TypeVar("F", bound=Callable[..., Any])
MUTATION_GOAL_PERCENT = 90.0  # issue 25: each decision module's tests catch at least this share of mutants


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


def _backend_name(c: Context, backend: str) -> str:
    """``--backend`` when given, else the collection's configured default (``INVOKE_BACKEND`` overrides it)."""
    return backend or str(c.config.backend)


def _backend(c: Context, backend: str, runtime: str = "process") -> Backend:
    from ml.backends import make_backend

    # on_event=print: what a verb decides on its own (a no-op update, a traffic shift) is shown.
    return make_backend(_backend_name(c, backend), config=_config(), root=ROOT, runtime=runtime, on_event=print)


def _local_verbs(lifecycle: Backend, what: str) -> LocalVerbs:
    verbs = lifecycle.local_verbs
    if verbs is None:
        raise Exit(f"error: {what} is for the local backend (one machine's endpoints), not {lifecycle.name}", code=2)
    return verbs


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
def build_image(c: Context, backend: str = "", tag: str = "", runtime: str = "process") -> None:
    """Build the container image (and push it to ECR with --backend sagemaker); prints its digest."""
    _show(_backend(c, backend, runtime).build_image(tag=tag or None))


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
    backend: str = "",
    data: str = "",
    hyperparameter: list[str] | None = None,
    register: bool = True,
    runtime: str = "process",
) -> None:
    """Train the model, streaming its logs, then register it as a new model version."""
    from ml.report import parse_pairs

    overrides = parse_pairs(hyperparameter or [], what="--hyperparameter")
    lifecycle = _backend(c, backend, runtime)
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
def approve(c: Context, version: str, status: str = "Approved", note: str = "", backend: str = "") -> None:
    """Approve (or reject) a model version; only approved versions deploy by default."""
    from ml.approval import check, decide

    # invoke passes a required positional argument as text, whatever its annotation says.
    if not version.isdigit():
        raise Exit(f"error: VERSION must be a model version number such as 3, not {version!r} (see `invoke versions`)", code=2)
    checked = check(status=status, note=note)  # before the report is written: a refused flag leaves nothing behind
    lifecycle = _backend(c, backend)
    if (verbs := lifecycle.local_verbs) is not None:  # on AWS the deploy pipeline's approval email links the report
        print("\n".join(verbs.review(version=int(version)).lines))
    decided, lines = decide(lifecycle, version=int(version), checked=checked, endpoint=_config().endpoint_name)
    for line in lines:
        print(line)
    _show(decided)


@task(help={"version": "the model version to report on (default: the newest)", "backend": BACKEND_HELP})
@_user_errors
def report(c: Context, version: int = 0, backend: str = "") -> None:
    """Write a model version's training report, beside the version now serving; print where it is.

    Locally it lands under .byoc/reports/; on AWS in the data lake (reports/<group>/<version>/ and
    reports/<group>/candidate/, the page the deploy approval links to), its URI on the model package.
    """
    written = _backend(c, backend).report(version=version or None)
    print("\n".join(written.lines))
    if not written.location:
        raise Exit(f"error: no report for model version {written.version}: {written.problem}", code=1)


@task(help={"backend": BACKEND_HELP})
@_user_errors
def versions(c: Context, backend: str = "") -> None:
    """List the registered model versions, newest first: approval, algorithm, data version, metrics, and which one serves."""
    from ml.errors import NotFoundError
    from ml.report import render_versions

    lifecycle = _backend(c, backend)
    try:
        serving: int | None = lifecycle.describe_endpoint(endpoint_name=_config().endpoint_name).version
    except NotFoundError:
        serving = None
    print(render_versions(lifecycle.list_versions(), serving=serving))


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
    c: Context, mode: str = "endpoint", version: int = 0, backend: str = "", data: str = "", output: str = "", runtime: str = "process"
) -> None:
    """Deploy a model version: a real-time endpoint, a batch transform, or a blue/green update."""
    if mode not in ("endpoint", "update", "transform"):
        raise Exit(f"error: --mode must be endpoint, transform or update, not {mode!r}", code=2)
    lifecycle = _backend(c, backend, runtime)
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
def test_endpoint(c: Context, backend: str = "", rows: int = 5) -> None:
    """Send sample rows from data/iris.csv to the endpoint and print the predictions."""
    from ml.report import sample_request

    body, expected = sample_request(ROOT / "data" / "iris.csv", rows=rows)
    lifecycle, name = _backend(c, backend), _config().endpoint_name
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
def rollback(c: Context, to: int = 0, backend: str = "") -> None:
    """Put the endpoint back on the previous model version (or --to VERSION): all at once, no alarm watch."""
    _show(_backend(c, backend).rollback(endpoint_name=_config().endpoint_name, to_version=to or None))


@task(help={"backend": BACKEND_HELP})
@_user_errors
def describe(c: Context, backend: str = "") -> None:
    """Show the endpoint: status, served version, variants and traffic weights."""
    _show(_backend(c, backend).describe_endpoint(endpoint_name=_config().endpoint_name))


@task(help={"new_url": "an endpoint whose port another program took since moves to a free port (a new URL)", "backend": BACKEND_HELP})
@_user_errors
def restore(c: Context, new_url: bool = False, backend: str = "") -> None:
    """Local: bring every recorded endpoint back after a restart, same version, weights and URL."""
    for line in _local_verbs(_backend(c, backend), "restore").restore(new_url=new_url):
        print(line)


@task(help={"backend": BACKEND_HELP, "all": "local only: every endpoint this project started, whatever its name"})
@_user_errors
def teardown(c: Context, backend: str = "", all: bool = False) -> None:
    """Stop and delete the endpoint and everything this project started for it, nothing else."""
    lifecycle = _backend(c, backend)
    # On AWS there is no --all: teardown removes the configured endpoint, which is all this project made.
    lines = _local_verbs(lifecycle, "--all").teardown_all() if all else lifecycle.teardown(endpoint_name=_config().endpoint_name)
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
    # Always synthesized (5-20 s of a run of minutes): what is rehearsed is this checkout's stacks,
    # never a cdktf.out older than a change that file times cannot see (a dependency, a context variable).
    synth_dir = _synthesize("cdktf.out", config=_rehearsal_config())
    workdir = Path(tempfile.mkdtemp(prefix="byoc-rehearsal-")) if keep else None
    results = run_rehearsal(root=ROOT, synth_dir=synth_dir, stages=stages, region=_config().region, on_line=print, keep=workdir)
    print(report(results, load=" ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])))
    if workdir is not None:
        print(f"kept {workdir}")
    if not all(r.passed for r in results):
        raise Exit("error: the rehearsal found unexpected results (see FAIL above)", code=1)


def _rehearse_infrastructure(*, keep: bool) -> None:
    from tools.rehearsal.infrastructure import rehearse_infrastructure, report

    result = rehearse_infrastructure(
        root=ROOT, synth_dir=_synthesize("cdktf.out", config=_rehearsal_config()), region=_config().region, keep=keep, on_line=print
    )
    print(report(result, load=" ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])))
    if not result.passed:
        raise Exit("error: the infrastructure rehearsal failed (see FAIL above)", code=1)


def _synthesize(outdir: str, *, config: ProjectConfig | None = None) -> Path:
    """The three stacks as Terraform JSON in ``ROOT/outdir`` (``<outdir>/stacks/<Stack>/cdk.tf.json``)."""
    from ml.nodejs import require_node

    require_node(root=ROOT)  # before jsii starts: an old Node gets one clear line, not a banner
    from main import synth as synthesize

    synthesize(config=config or _config(), outdir=str(ROOT / outdir))
    return ROOT / outdir


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
        "earlier_endpoints": "also count records captured by earlier endpoints of the same name (default: the current endpoint's life)",
    }
)
@_user_errors
def monitor(
    c: Context,
    backend: str = "",
    endpoint: str = "",
    hours: float = 0.0,
    since: str = "",
    until: str = "",
    capture_dir: str = "",
    report: str = "",
    baseline: str = "",
    earlier_endpoints: bool = False,
) -> None:
    """Compare captured traffic with the training baseline of the version that answered it; exit 3 on a breach.

    Per feature: missing values, values outside the training range, drift (PSI); and the
    predicted classes against the training labels. Error answers are counted apart (error rate).
    Fewer rows than monitor_min_rows give INSUFFICIENT DATA (exit 0). Prints a table and writes an HTML report.
    """
    from ml.monitor.project import BREACH_EXIT_CODE, run_project_monitor
    from ml.monitor.window import window_from

    config = _config()
    window = window_from(since=since, until=until, hours=hours, default_hours=config.monitor_window_hours)
    outcome = run_project_monitor(
        config=config,
        root=ROOT,
        backend=_backend_name(c, backend),
        window=window,
        endpoint=endpoint,
        capture_dir=capture_dir,
        report=report,
        baseline=baseline,
        earlier_endpoints=earlier_endpoints,
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


@task(
    help={
        "backend": BACKEND_HELP,
        "port": "port to listen on (default 8765)",
        "host": "address to listen on (default 127.0.0.1, this machine only); any other needs --allow-remote",
        "allow_remote": "allow a --host beyond loopback; every request then needs the token printed in the URL",
        "demo": "show the main job's versions, endpoint and reports (`invoke lifecycle` keeps them apart from yours)",
    }
)
@_user_errors
def console(
    c: Context, backend: str = "", port: int = 8765, host: str = "127.0.0.1", allow_remote: bool = False, demo: bool = False
) -> None:
    """Open the web console: versions and approvals, endpoints with live updates, monitor runs, reports."""
    from ml.console.serve import check_bind, serve
    from ml.console.settings import ConsoleSettings

    check_bind(host=host, port=port, allow_remote=allow_remote)
    settings = ConsoleSettings.create(root=ROOT, config=_config(), backend=_backend_name(c, backend), host=host, demo=demo)
    serve(settings, port=port)


@task(help={"outdir": "where to write the Terraform JSON (default cdktf.out)"})
@_user_errors
def synth(c: Context, outdir: str = "cdktf.out") -> None:
    """Synthesize the three pipeline stacks to Terraform JSON (what `cdktf synth` does)."""
    from ml.names import STACKS

    _synthesize(outdir)
    print(f"synthesized {', '.join(STACKS)} into {outdir}/stacks/")


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
        "modules": "comma-separated targets by name or path (default: every decision module; list in docs/testing.md)",
        "minutes": "time box per module (default 15)",
        "workdir": "where the scratch copies go (default: a new temp folder, kept to inspect mutants)",
        "show": "survivors shown with their diff per module (default 60; the rest by name)",
    }
)
def mutation(c: Context, modules: str = "", minutes: float = 15.0, workdir: str = "", show: int = 60) -> None:
    """Mutation testing (mutmut) of the decision modules with their fast tests: the score per module, every survivor.

    Not part of `invoke check`: minutes per module on two cores. Exit 1 when a module scores under 90%.
    """
    import tempfile

    from tools.mutation.run import report, run_target
    from tools.mutation.targets import chosen

    try:
        targets = chosen(modules)
    except ValueError as err:
        raise Exit(f"error: {err}", code=2) from err
    if minutes <= 0:
        raise Exit(f"error: --minutes must be positive, not {minutes:g}", code=2)
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="byoc-mutation-"))
    scores = [run_target(ROOT, folder, t, children=2, timeout_s=minutes * 60, say=print, shown=show) for t in targets]
    text = report(scores, goal=MUTATION_GOAL_PERCENT)
    (folder / "report.txt").write_text(text, encoding="utf-8")
    print(text + f"report: {folder / 'report.txt'}")
    if any(s.percent < MUTATION_GOAL_PERCENT for s in scores):
        raise Exit(f"mutation: a module scored under {MUTATION_GOAL_PERCENT:g}%", code=1)


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
    console,
    synth,
    outputs,
    mutation,
    check,
    bench,
)
# The one home of every task default that is not a flag's own: invoke reads it, and INVOKE_BACKEND
# (invoke's environment configuration) overrides it for a shell or a CodeBuild project.
ns.configure({"run": {"echo": False}, "backend": DEFAULT_BACKEND})
