"""Run a rehearsal: fakes up, each stage as a CodeBuild build of a fresh export, a timed report.

Each pipeline stage exports the source commit anew (CodeBuild starts from a clean tree every
time, so nothing a previous build wrote survives) and runs the buildspec embedded in the
synthesized CodeBuild project, checked against the repository's own file.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.sagemaker.training import DEFAULT_TRAIN_KEY
from ml.config import load_config
from ml.errors import ByocError
from ml.imaging import DEBIAN_BASE, STORAGE, ensure_debian_base
from ml.names import STACKS, Stack, cached_base_image
from ml.tfstate import StackOutputs, environment_outputs
from tools.rehearsal.buildspec import Buildspec, describe_runtime, parse_buildspec, run_build
from tools.rehearsal.checks import StageChecks
from tools.rehearsal.codebuild_env import BuildHost, build_environment, image_detail, project_variables
from tools.rehearsal.fakes.ecr import Mutability, shuffled
from tools.rehearsal.front import FakeAwsServer, make_front, reset_moto
from tools.rehearsal.plan import Stage
from tools.rehearsal.registry import LoopbackRegistry
from tools.rehearsal.source import export_tree, snapshot_commit
from tools.rehearsal.world import World, load_stacks

STACK_OF = {"build": Stack.BUILD, "train": Stack.TRAIN, "deploy": Stack.DEPLOY, "operator": Stack.DEPLOY}
_BASE_ARG = re.compile(r"^ARG BASE_IMAGE=(\S+)$", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class StageResult:
    stage: Stage
    passed: bool
    exit_code: int
    seconds: float
    note: str


def _project(stack: dict[str, Any]) -> dict[str, Any]:
    """The stack's pipeline project (the deploy stack also holds the scheduled monitor's, which has its own source)."""
    projects = {k: p for k, p in stack["resource"]["aws_codebuild_project"].items() if p["source"]["type"] == "CODEPIPELINE"}
    if len(projects) != 1:
        raise ValueError(f"expected one pipeline CodeBuild project per stack, found {sorted(projects)}")
    return next(iter(projects.values()))


def dockerfile_base(dockerfile: Path) -> str:
    """The Dockerfile's default ``BASE_IMAGE``, fully qualified as a pull would name it."""
    match = _BASE_ARG.search(dockerfile.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{dockerfile} has no `ARG BASE_IMAGE=<image>` default to stand in for")
    name = match.group(1)
    if "/" not in name:
        name = f"library/{name}"
    return name if "." in name.split("/", 1)[0] else f"docker.io/{name}"


def prepare_base_image(dockerfile: Path) -> None:
    """The Dockerfile's FROM, made locally (debootstrap, once per machine) under its public name:
    no registry is reachable here, CodeBuild would pull it."""
    ensure_debian_base()
    subprocess.run(["buildah", *STORAGE, "tag", DEBIAN_BASE, dockerfile_base(dockerfile)], check=True, capture_output=True)


class Rehearsal:
    def __init__(self, *, root: Path, synth_dir: Path, workdir: Path, region: str, on_line: Callable[[str], None]) -> None:
        self.root, self.synth_dir, self.workdir, self.region, self.on_line = root, synth_dir, workdir, region, on_line
        self.stacks = load_stacks(synth_dir, tuple(dict.fromkeys(STACK_OF.values())))
        self.commit = snapshot_commit(root)
        self.registry = LoopbackRegistry(workdir=workdir / "registry")
        self.mutability: dict[str, Mutability] = {}
        self._exports = 0

    def __enter__(self) -> Rehearsal:
        self.registry.start()
        try:
            self._start()
        except BaseException:
            self.registry.stop()  # what was started is stopped, whatever failed
            raise
        return self

    def _start(self) -> None:
        import boto3

        # The build pulls the base through the stack's ECR cache, in the registry the ECR
        # repository lives in: here the loopback registry. The cache holds what ECR Public
        # serves; locally that is the debootstrapped base, under the cache's name.
        cached = cached_base_image(f"{self.registry.address}/repository", load_config(self.root / "cdktf.json").project_name)
        subprocess.run(["buildah", *STORAGE, "tag", DEBIAN_BASE, cached], check=True, capture_output=True)
        reset_moto()
        self.front = make_front(region=self.region, registry=self.registry.client, fault=None, mutability=self.mutability)
        self.server = FakeAwsServer(app=self.front).start()
        try:
            self.session = boto3.Session(region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106 - moto's fake credentials
            self.world = World(
                stacks=self.stacks,
                session=_EndpointSession(self.session, self.server.url),
                registry_address=self.registry.address,
                mutability=self.mutability,
            )
            self.host = BuildHost.write(directory=self.workdir / "host", registry=self.registry.address)
            self.variables = {p: project_variables(_project(self.stacks[s]), self.world.resolver(s)) for p, s in STACK_OF.items()}
            self.outputs = carried_outputs(self.variables["deploy"])
            self.put_data(reverse=False)
        except BaseException:
            self.server.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.registry.stop()
        reset_moto()

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.server.url)

    @property
    def datalake(self) -> str:
        return self.outputs.datalake_bucket

    def put_data(self, *, reverse: bool) -> str:
        """Upload the sample data as the train pipeline's S3 source object; a new version each call."""
        rows = (self.root / "data" / "iris.csv").read_text(encoding="utf-8").splitlines()
        body = "\n".join(reversed(rows) if reverse else rows) + "\n"
        return str(self.client("s3").put_object(Bucket=self.datalake, Key=DEFAULT_TRAIN_KEY, Body=body.encode())["VersionId"])

    def _buildspec(self, pipeline: str, src: Path) -> Buildspec:
        embedded = _project(self.stacks[STACK_OF[pipeline]])["source"]["buildspec"]
        on_disk = (src / "buildspecs" / f"{pipeline}.yml").read_text(encoding="utf-8")
        if embedded != on_disk:
            raise ValueError(
                f"the buildspec embedded in the synthesized {pipeline} project differs from buildspecs/{pipeline}.yml; "
                "re-run `invoke synth`"
            )
        return parse_buildspec(embedded, origin=f"{STACK_OF[pipeline]} CodeBuild project")

    def _secondary(self, pipeline: str, base: Path) -> dict[str, Path]:
        """The build action's secondary inputs as CodePipeline hands them to CodeBuild: each
        artifact unzipped into its own folder (``$CODEBUILD_SRC_DIR_<artifact>``), read from the
        synthesized pipeline. An ECR source's artifact is imageDetail.json; an S3 source's is the
        object itself, which CodeBuild can unpack only when it is a zip."""
        if pipeline not in ("build", "train", "deploy"):
            return {}
        pipelines = self.stacks[STACK_OF[pipeline]]["resource"]["aws_codepipeline"].values()
        actions = [a for p in pipelines for st in p["stage"] for a in st["action"]]
        (build,) = [a for a in actions if a["provider"] == "CodeBuild"]
        primary = build.get("configuration", {}).get("PrimarySource", build["input_artifacts"][0])
        made: dict[str, Path] = {}
        for artifact in build["input_artifacts"]:
            if artifact == primary:
                continue
            (producer,) = [a for a in actions if artifact in a.get("output_artifacts", [])]
            folder = base / artifact
            folder.mkdir(parents=True)
            if producer["provider"] == "ECR":
                self._image_detail(folder)
            elif producer["provider"] == "S3":
                self._unzip_s3_source(producer, folder)
            else:
                raise ValueError(f"the rehearsal cannot hand a {producer['provider']} artifact ({artifact}) to CodeBuild")
            made[artifact] = folder
        return made

    def _image_detail(self, folder: Path) -> None:
        repository = self.outputs.ecr_repository_name
        latest = self.registry.client.manifest(repository, "latest")
        if latest is None:
            raise ValueError(f"the ECR source has no image: {repository}:latest was never pushed (run the build stage first)")
        tags = [t for t in self.registry.client.tags(repository) if self.registry.client.head_digest(repository, t) == latest.digest]
        tags = shuffled(tags)  # CodePipeline's imageDetail.json lists ECR's tags, which have no order
        detail = image_detail(
            repository_uri=self.outputs.ecr_repository_url, repository=repository, digest=latest.digest, tags=tags, size=latest.size_bytes
        )
        (folder / "imageDetail.json").write_text(detail, encoding="utf-8")

    def _unzip_s3_source(self, action: dict[str, Any], folder: Path) -> None:
        key = action["configuration"]["S3ObjectKey"]
        body = self.client("s3").get_object(Bucket=self.datalake, Key=key)["Body"].read()
        if not zipfile.is_zipfile(io.BytesIO(body)):
            raise ValueError(
                f"the {action['name']} S3 source (s3://<datalake>/{key}) is handed to CodeBuild, which unzips every input "
                "artifact, but the object is not a zip (CodePipeline S3 source action reference: downstream actions that "
                "expect a .zip file will fail)"
            )
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.extractall(folder)

    def run_stage(self, stage: Stage) -> StageResult:
        started = time.monotonic()
        self.front.set_fault(None)
        if stage.new_data:
            self.on_line(f"[rehearsal] new data object version {self.put_data(reverse=self._exports % 2 == 0)}")
        self._exports += 1
        base = self.workdir / f"build-{self._exports:02d}"
        src = export_tree(self.root, commit=self.commit, destination=base / "src")
        pipeline = "deploy" if stage.pipeline == "operator" else stage.pipeline
        spec = self._buildspec(pipeline, src)
        if stage.pipeline == "operator":
            spec = Buildspec(variables={}, commands={"build": (stage.command,)})
        for line in describe_runtime(spec):
            self.on_line(f"[rehearsal] {line}")
        project_vars = self.variables[pipeline]
        env = build_environment(
            project_name=str(_project(self.stacks[STACK_OF[pipeline]])["name"]),
            project_vars=project_vars,
            buildspec_vars=spec.variables,
            overrides=stage.overrides,
            src_dir=src,
            secondary=self._secondary(stage.pipeline, base),
            commit=self.commit,
            region=self.region,
            endpoint_url=self.server.url,
            host=self.host,
            initiator="rehearsal/operator" if stage.pipeline == "operator" else f"codepipeline/{pipeline}",
        )
        if stage.pipeline == "operator":
            env = {k: v for k, v in env.items() if not k.startswith("CODEBUILD_")}
        before = self._commit_digest() if stage.pipeline == "build" else None
        self.front.set_fault(stage.fault)
        result = run_build(spec, cwd=src, environ=env, on_line=self.on_line)
        self.front.set_fault(None)
        passed, note = self._judge(stage, result.succeeded, result.output, before=before)
        code = result.failure.exit_code if result.failure else 0
        shutil.rmtree(base, ignore_errors=True)
        return StageResult(stage=stage, passed=passed, exit_code=code, seconds=time.monotonic() - started, note=note)

    def _judge(self, stage: Stage, succeeded: bool, output: str, *, before: str | None) -> tuple[bool, str]:
        checks = StageChecks(
            registry=self.registry.client,
            sagemaker=self.client("sagemaker"),
            s3=self.client("s3"),
            outputs=self.outputs,
            commit=self.commit,
            project=load_config(self.root / "cdktf.json").project_name,
        )
        return checks.judge(stage, succeeded=succeeded, output=output, before=before)

    def _commit_digest(self) -> str | None:
        return self.registry.client.head_digest(self.outputs.ecr_repository_name, self.commit)


def carried_outputs(variables: dict[str, str]) -> StackOutputs:
    """The stacks' outputs as a CodeBuild project carries them (``BYOC_OUTPUTS_<STACK>``), typed."""
    by_stack: dict[str, dict[str, Any]] = {s: found for s in STACKS if (found := environment_outputs(s, variables)) is not None}
    return StackOutputs.from_values(by_stack)


class _EndpointSession:
    """A boto3 session whose clients all talk to the fake AWS endpoint."""

    def __init__(self, session: Any, url: str) -> None:
        self._session, self._url = session, url

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._url)


def run_rehearsal(
    *, root: Path, synth_dir: Path, stages: tuple[Stage, ...], region: str, on_line: Callable[[str], None], keep: Path | None = None
) -> list[StageResult]:
    """Run ``stages`` in order against fresh fakes; every stage runs even after a failure is seen."""
    prepare_base_image(root / "ml" / "container" / "Dockerfile")
    workdir = keep or Path(tempfile.mkdtemp(prefix="byoc-rehearsal-"))
    try:
        with Rehearsal(root=root, synth_dir=synth_dir, workdir=workdir, region=region, on_line=on_line) as rehearsal:
            results = []
            for stage in stages:
                started = time.monotonic()
                try:
                    results.append(rehearsal.run_stage(stage))
                except (ByocError, ValueError) as err:  # the stage could not even start: say why, go on
                    results.append(StageResult(stage=stage, passed=False, exit_code=-1, seconds=time.monotonic() - started, note=str(err)))
            return results
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def report(results: list[StageResult], *, load: str) -> str:
    lines = [f"{'RESULT':<6} {'SECONDS':>7}  STAGE", "-" * 72]
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL':<6} {r.seconds:7.1f}  {r.stage.name}" + (f"  — {r.note}" if r.note else ""))
    total = sum(r.seconds for r in results)
    failed = sum(not r.passed for r in results)
    lines += ["-" * 72, f"{len(results) - failed}/{len(results)} stages as expected in {total:.1f} s (loadavg {load})"]
    return "\n".join(lines)
