"""The contract suite's two worlds: one :class:`Contract` per backend, so the same test runs on both.

``local`` is the real thing: training processes, nginx, serve variants, in a scratch git
checkout. ``sagemaker`` is boto3 against moto plus the faithful fakes of what moto lacks
(``sagemaker/sagemaker_fakes.py``: endpoint updates, training status sequences, a clock).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from ml.backends.base import Backend
from ml.backends.local.backend import LocalBackend
from ml.backends.local.programs import ProcessPrograms
from ml.backends.local.training import KIND as TRAINING_KIND
from ml.backends.records import ImageRecord, TrainingJob
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.clients import make_clients
from ml.config import load_config
from ml.tfstate import StackOutputs

REPO = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
DATALAKE = "byoc-contract-datalake"
GROUP = "scikit-byo"
ECR_REPO = "sagemaker-scikit-byo"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
OVERRIDES = {"max_depth": "3"}  # the first job's override: the contract merges it with cdktf.json's
FAST_LOCAL = {"local_bluegreen_wait_seconds": 0.2, "local_bluegreen_baking_seconds": 0.5, "alarm_p99_latency_ms": 60000}


def _load_fakes() -> ModuleType:
    """``sagemaker/sagemaker_fakes.py``, loaded by path (it is not a package, and this folder's
    tests must not depend on which conftest pytest happened to import first)."""
    if "sagemaker_fakes" in sys.modules:
        return sys.modules["sagemaker_fakes"]
    spec = importlib.util.spec_from_file_location("sagemaker_fakes", Path(__file__).with_name("sagemaker") / "sagemaker_fakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sagemaker_fakes"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Contract:
    """A backend, two Completed training jobs (older first; the first trained with OVERRIDES),
    the backend's configured endpoint name, and the lines its event sink heard."""

    backend: Backend
    jobs: list[str]
    configured_endpoint: str
    trained: list[TrainingJob]  # the jobs' records, as the backend returned or stored them
    events: list[str] = field(default_factory=list)


def train_local_project(root: Path) -> Path:
    """A scratch git checkout with two real training jobs; each test copies their records."""
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("*.out"))
    for argv in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data"]):
        subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True)
    (root / "uncommitted.txt").write_text("the work tree differs from HEAD\n", encoding="utf-8")
    backend = LocalBackend(config=load_config(REPO / "cdktf.json", overrides=FAST_LOCAL), root=root, programs=_programs())
    for params in (OVERRIDES, {"max_depth": "2"}):
        backend.train(hyperparameters=params, data=str(root / "data" / "iris.csv"))
    return root


def _programs() -> ProcessPrograms:
    return ProcessPrograms(code=REPO / "ml" / "container")


def local_world(trained: Path, tmp_path: Path) -> Iterator[Contract]:
    events: list[str] = []
    config = load_config(REPO / "cdktf.json", overrides=FAST_LOCAL)
    backend = LocalBackend(config=config, root=tmp_path, programs=_programs(), on_event=events.append)
    source = LocalBackend(config=config, root=trained, programs=_programs())
    jobs = sorted(source.store.list(TRAINING_KIND), key=lambda r: str(r["created_at"]))
    for record in jobs:
        backend.store.put(TRAINING_KIND, record["name"], record)
    yield Contract(
        backend=backend,
        jobs=[r["name"] for r in jobs],
        configured_endpoint=config.endpoint_name,
        trained=[TrainingJob.from_dict(r) for r in jobs],
        events=events,
    )
    backend.teardown_all()


def sagemaker_world(tmp_path: Path) -> Iterator[Contract]:
    fakes = _load_fakes()
    events: list[str] = []
    config = load_config(REPO / "cdktf.json", overrides={"region": REGION})
    with mock_aws():
        clients = make_clients(boto3.Session(region_name=REGION), retry_mode="standard", max_attempts=1)
        clients.s3.create_bucket(Bucket=DATALAKE)
        clients.s3.put_bucket_versioning(Bucket=DATALAKE, VersioningConfiguration={"Status": "Enabled"})
        clients.s3.put_object(Bucket=DATALAKE, Key="iris/input/iris.csv", Body=b"setosa,5.1,3.5,1.4,0.2\n")
        clients.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        repo_url = clients.ecr.create_repository(repositoryName=ECR_REPO)["repository"]["repositoryUri"]
        outputs = _outputs(repo_url, endpoint=config.endpoint_name)
        sm: Any = fakes.EndpointFake(fakes.TrainingStatusFake(clients.sagemaker))
        wired = dataclasses.replace(clients, sagemaker=sm)
        backend = SageMakerBackend(
            config=config, root=tmp_path, outputs=outputs, clients=wired, clock=fakes.FakeClock(), builder="docker", on_log=events.append
        )
        tag = f"{COMMIT}-dirty"
        layer = {"digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(), "size": 1}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": [layer]})
        # moto derives the digest its own way; registering pins the image by the digest ECR reports.
        digest = clients.ecr.put_image(repositoryName=ECR_REPO, imageManifest=manifest, imageTag=tag)["image"]["imageId"]["imageDigest"]
        backend.state.record_image(ImageRecord(uri=f"{repo_url}@{digest}", digest=digest, tag=tag, builder="docker"))
        trained = [backend.train(hyperparameters=params) for params in (OVERRIDES, {"max_depth": "2"})]
        yield Contract(
            backend=backend, jobs=[j.name for j in trained], configured_endpoint=outputs.endpoint_name, trained=trained, events=events
        )


def _outputs(repo_url: str, *, endpoint: str) -> StackOutputs:
    account = DEFAULT_ACCOUNT_ID
    return StackOutputs(
        ecr_repository_url=repo_url,
        ecr_repository_name=ECR_REPO,
        ecr_repository_arn=f"arn:aws:ecr:{REGION}:{account}:repository/{ECR_REPO}",
        build_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/build",
        build_pipeline_name="build",
        datalake_bucket=DATALAKE,
        datalake_key_arn=f"arn:aws:kms:{REGION}:{account}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        sagemaker_role_arn=f"arn:aws:iam::{account}:role/byoc-sagemaker",
        model_package_group=GROUP,
        train_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/train",
        train_pipeline_name="train",
        artifact_bucket="byoc-contract-artifacts",
        approval_topic_arn=f"arn:aws:sns:{REGION}:{account}:approval",
        deploy_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/deploy",
        deploy_pipeline_name="deploy",
        endpoint_name=endpoint,
        alarm_names=("contract-5xx", "contract-p99"),
    )
