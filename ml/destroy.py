"""``invoke destroy``: the guard before ``cdktf destroy``, and the opt-in emptying it may need.

Terraform deletes the SageMaker execution role with the train stack, but SageMaker needs it to
finish deleting an endpoint: "Do not delete or revoke the permissions for your ExecutionRoleArn,
otherwise SageMaker cannot delete these resources" (DeleteEndpoint API reference). So nothing is
destroyed while an endpoint of this project exists (``--teardown`` removes them first) or a job
runs as that role. Buckets, the image repository and the model package group refuse deletion
while they hold anything (Terraform's default, kept on purpose: models and data are not
infrastructure); ``--empty`` deletes their contents, and only when asked. Every check runs
before the first change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.sagemaker.aws_errors import aws_call
from ml.config import ProjectConfig
from ml.errors import ByocError, UserInputError
from ml.names import Output, Stack
from ml.tfstate import read_outputs

# Terraform destroys the deploy stack first (it reads the others' outputs), the build stack last.
DESTROY_ORDER = (Stack.DEPLOY, Stack.TRAIN, Stack.BUILD)
# "You might still see these resources in your account for a few minutes after deleting your
# endpoint" (DeleteEndpoint API reference): how long to wait after a teardown before the role
# can go. AWS gives no number; five minutes is this project's reading of "a few".
GRANT_CLEANUP_SECONDS = 300
BUCKET_OUTPUTS = {
    Stack.BUILD: (Output.BUILD_ARTIFACT_BUCKET,),
    Stack.TRAIN: (Output.DATALAKE_BUCKET, Output.ARTIFACT_BUCKET),
    Stack.DEPLOY: (Output.DEPLOY_ARTIFACT_BUCKET,),
}
_ACTIVE_JOBS = ("InProgress", "Stopping")


@dataclass(frozen=True, kw_only=True)
class Holdings:
    """What a destroy would have to delete first: ``{what: count}`` (counts stop at a sample)."""

    buckets: dict[str, int]
    images: dict[str, int]
    model_packages: dict[str, int]

    def lines(self) -> list[str]:
        found = [f"bucket {b} holds objects" for b, n in self.buckets.items() if n]
        found += [f"ECR repository {r} holds {n} image(s)" for r, n in self.images.items() if n]
        found += [f"model package group {g} holds {n} version(s)" for g, n in self.model_packages.items() if n]
        return found


@dataclass(frozen=True, kw_only=True)
class Project:
    """The project's names, from the stacks' outputs (a stack already destroyed contributes none)."""

    endpoint_prefix: str
    buckets: tuple[str, ...]
    repositories: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def from_outputs(cls, *, project_name: str, outputs: dict[str, dict[str, Any]]) -> Project:
        buckets = tuple(
            str(outputs[s][name]) for s, names in BUCKET_OUTPUTS.items() if s in outputs for name in names if outputs[s].get(name)
        )
        repositories = (str(outputs[Stack.BUILD][Output.ECR_REPOSITORY_NAME]),) if Stack.BUILD in outputs else ()
        groups = (str(outputs[Stack.TRAIN][Output.MODEL_PACKAGE_GROUP]),) if Stack.TRAIN in outputs else ()
        return cls(endpoint_prefix=project_name, buckets=buckets, repositories=repositories, groups=groups)


def live_endpoints(sagemaker: Any, project: Project) -> list[str]:
    """This project's endpoints in any status (their names start with the project name)."""
    found: list[str] = []
    with aws_call(service="sagemaker", action="listing this project's endpoints"):
        for page in sagemaker.get_paginator("list_endpoints").paginate(NameContains=project.endpoint_prefix):
            found += [e["EndpointName"] for e in page.get("Endpoints", []) if e["EndpointName"].startswith(project.endpoint_prefix)]
    return sorted(found)


def running_jobs(sagemaker: Any, project: Project) -> list[str]:
    """Training and transform jobs of this project still running as the execution role."""
    found: list[str] = []
    with aws_call(service="sagemaker", action="listing this project's running jobs"):
        for kind, key in (("training", "TrainingJob"), ("transform", "TransformJob")):
            for status in _ACTIVE_JOBS:
                pages = sagemaker.get_paginator(f"list_{kind}_jobs").paginate(NameContains=project.endpoint_prefix, StatusEquals=status)
                found += [f"{kind} job {j[f'{key}Name']} ({status})" for page in pages for j in page.get(f"{key}Summaries", [])]
    return found


def holdings(*, s3: Any, ecr: Any, sagemaker: Any, project: Project) -> Holdings:
    """One page of each listing: enough to say whether anything is there."""
    with aws_call(service="s3", action="looking into this project's buckets"):
        buckets = {}
        for bucket in project.buckets:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
            buckets[bucket] = len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    with aws_call(service="ecr", action="looking into this project's image repository"):
        images = {r: len(ecr.list_images(repositoryName=r, maxResults=1000).get("imageIds", [])) for r in project.repositories}
    with aws_call(service="sagemaker", action="looking into this project's model package group"):
        packages = {
            g: len(sagemaker.list_model_packages(ModelPackageGroupName=g, MaxResults=100).get("ModelPackageSummaryList", []))
            for g in project.groups
        }
    return Holdings(buckets=buckets, images=images, model_packages=packages)


def empty_project(*, s3: Any, ecr: Any, sagemaker: Any, project: Project, log: Callable[[str], None]) -> None:
    """Delete every object version, image and model version the project holds (``--empty``)."""
    for bucket in project.buckets:
        with aws_call(service="s3", action=f"emptying bucket {bucket}"):
            deleted = 0
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
                deleted += len(keys)
        log(f"emptied bucket {bucket} ({deleted} object versions)")
    for repository in project.repositories:
        with aws_call(service="ecr", action=f"emptying ECR repository {repository}"):
            ids = [i for page in ecr.get_paginator("list_images").paginate(repositoryName=repository) for i in page.get("imageIds", [])]
            digests = [{"imageDigest": d} for d in sorted({i["imageDigest"] for i in ids})]
            for start in range(0, len(digests), 100):  # BatchDeleteImage takes at most 100 ids
                ecr.batch_delete_image(repositoryName=repository, imageIds=digests[start : start + 100])
        log(f"emptied ECR repository {repository} ({len(digests)} images)")
    for group in project.groups:
        with aws_call(service="sagemaker", action=f"deleting the versions of model package group {group}"):
            arns: list[str] = []
            request: dict[str, Any] = {"ModelPackageGroupName": group}
            while True:
                page = sagemaker.list_model_packages(**request)
                arns += [p["ModelPackageArn"] for p in page.get("ModelPackageSummaryList", [])]
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
            for arn in arns:
                sagemaker.delete_model_package(ModelPackageName=arn)
        log(f"deleted {len(arns)} version(s) of model package group {group}")


@dataclass(frozen=True, kw_only=True)
class DestroyPlan:
    """What the guard found: what blocks a destroy, and what ``--teardown``/``--empty`` would remove."""

    endpoints: list[str]
    jobs: list[str]
    held: Holdings

    def refusals(self, *, teardown: bool, empty: bool) -> list[str]:
        found = [f"job still running: {j}; wait for it or stop it" for j in self.jobs]
        if self.endpoints and not teardown:
            found.append(
                f"endpoint(s) still exist: {', '.join(self.endpoints)}; the execution role must outlive them "
                "(DeleteEndpoint API reference): run `invoke teardown --backend sagemaker` first, or pass --teardown"
            )
        if self.held.lines() and not empty:
            found += [
                f"{line}: Terraform will not delete it while it does; pass --empty to delete the contents (irreversible)"
                for line in self.held.lines()
            ]
        return found


def check(*, sagemaker: Any, s3: Any, ecr: Any, project: Project) -> DestroyPlan:
    return DestroyPlan(
        endpoints=live_endpoints(sagemaker, project),
        jobs=running_jobs(sagemaker, project),
        held=holdings(s3=s3, ecr=ecr, sagemaker=sagemaker, project=project),
    )


def cdktf_destroy_argv(*, auto_approve: bool) -> list[str]:
    """``cdktf destroy`` of the three stacks; the CLI orders them by their dependencies."""
    return ["npx", "--no-install", "cdktf", "destroy", *DESTROY_ORDER, *(["--auto-approve"] if auto_approve else [])]


def refuse(problems: Sequence[str]) -> None:
    if problems:
        raise UserInputError("destroy refused, nothing was changed:\n  - " + "\n  - ".join(problems))


def run_destroy(
    *,
    plan: DestroyPlan,
    project: Project,
    clients: Any,
    teardown: Callable[[str], list[str]] | None,
    empty: bool,
    run_cdktf: Callable[[list[str]], object],
    auto_approve: bool,
    log: Callable[[str], None],
    sleep: Callable[[float], None],
) -> None:
    """Refuse on any problem, then tear down, empty and destroy, in that order.

    ``teardown`` (``None`` unless ``--teardown``) removes one endpoint; ``clients`` has ``s3``,
    ``ecr`` and ``sagemaker``; ``run_cdktf`` runs the CLI (interactive unless ``auto_approve``).
    """
    refuse(plan.refusals(teardown=teardown is not None, empty=empty))
    if plan.endpoints and teardown is not None:
        for endpoint in plan.endpoints:
            for line in teardown(endpoint):
                log(f"deleted {line}")
        log(f"waiting {GRANT_CLEANUP_SECONDS} s: SageMaker finishes deleting an endpoint's resources with its execution role")
        sleep(GRANT_CLEANUP_SECONDS)
    if empty and plan.held.lines():
        empty_project(s3=clients.s3, ecr=clients.ecr, sagemaker=clients.sagemaker, project=project, log=log)
    run_cdktf(cdktf_destroy_argv(auto_approve=auto_approve))


def destroy_project(
    *,
    config: ProjectConfig,
    root: Path,
    teardown: bool,
    empty: bool,
    auto_approve: bool,
    run_cdktf: Callable[[list[str]], object],
    log: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """``invoke destroy``: names from the stacks' outputs, the guard, then :func:`run_destroy`."""
    from ml.backends.sagemaker.backend import SageMakerBackend

    backend = SageMakerBackend.from_project(config=config, root=root, on_log=log)
    s3_state = backend.clients.s3 if config.state_backend == "s3" else None
    outputs: dict[str, dict[str, Any]] = {}
    for stack in DESTROY_ORDER:
        try:
            outputs[stack] = read_outputs(config, root=root, stack=stack, s3_client=s3_state)
        except ByocError:
            log(f"{stack}: no outputs (not deployed, or already destroyed)")
    project = Project.from_outputs(project_name=config.project_name, outputs=outputs)
    run_destroy(
        plan=check(sagemaker=backend.clients.sagemaker, s3=backend.clients.s3, ecr=backend.clients.ecr, project=project),
        project=project,
        clients=backend.clients,
        teardown=(lambda name: backend.teardown(endpoint_name=name)) if teardown else None,
        empty=empty,
        run_cdktf=run_cdktf,
        auto_approve=auto_approve,
        log=log,
        sleep=sleep,
    )
