"""`invoke destroy`'s guard and opt-in emptying, against moto: nothing changes while anything blocks."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml.destroy import DESTROY_ORDER, GRANT_CLEANUP_SECONDS, Project, check, run_destroy
from ml.errors import UserInputError

REGION = "us-east-1"
PROJECT = Project(endpoint_prefix="scikit-byo", buckets=("lake", "artifacts"), repositories=("repo",), groups=("scikit-byo",))
ROLE = "arn:aws:iam::123456789012:role/sm"
MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []}'


class ModelPackageDeletion:
    """moto 5.2 has no DeleteModelPackage. SageMaker's reference: it "Deletes a model package", after
    which ListModelPackages no longer lists it; a name that does not exist is a ValidationException."""

    def __init__(self, real: Any) -> None:
        self.real, self.deleted = real, set[str]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def delete_model_package(self, *, ModelPackageName: str) -> dict[str, Any]:
        self.real.describe_model_package(ModelPackageName=ModelPackageName)  # a missing one fails as on AWS
        self.deleted.add(ModelPackageName)
        return {}

    def list_model_packages(self, **request: Any) -> dict[str, Any]:
        page = dict(self.real.list_model_packages(**request))
        page["ModelPackageSummaryList"] = [p for p in page.get("ModelPackageSummaryList", []) if p["ModelPackageArn"] not in self.deleted]
        return page


@pytest.fixture
def clients() -> Iterator[Any]:
    with mock_aws():
        made = types.SimpleNamespace(**{name: boto3.client(name, region_name=REGION) for name in ("s3", "ecr", "sagemaker")})
        made.sagemaker = ModelPackageDeletion(made.sagemaker)
        for bucket in PROJECT.buckets:
            made.s3.create_bucket(Bucket=bucket)
            made.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        made.ecr.create_repository(repositoryName="repo")
        made.sagemaker.create_model_package_group(ModelPackageGroupName="scikit-byo")
        yield made


def _fill(clients: Any) -> None:
    for version in ("a", "b"):  # two versions of one key: both must go
        clients.s3.put_object(Bucket="lake", Key="datacapture/x.jsonl", Body=version.encode())
    clients.ecr.put_image(repositoryName="repo", imageManifest=MANIFEST, imageTag="abc")
    image = "1.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:" + "a" * 64
    spec = {"Containers": [{"Image": image}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    clients.sagemaker.create_model_package(ModelPackageGroupName="scikit-byo", InferenceSpecification=spec)


def _endpoint(clients: Any) -> None:
    sm = clients.sagemaker
    sm.create_model(ModelName="scikit-byo-m", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE)
    variant = {"VariantName": "AllTraffic", "ModelName": "scikit-byo-m", "InitialInstanceCount": 1, "InstanceType": "ml.t2.medium"}
    sm.create_endpoint_config(EndpointConfigName="scikit-byo-c", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName="scikit-byo-endpoint", EndpointConfigName="scikit-byo-c")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def run(self, argv: list[str]) -> None:
        self.events.append(("cdktf", argv))

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", seconds))


def _destroy(clients: Any, recorder: Recorder, *, teardown: bool = False, empty: bool = False) -> None:
    def tear(name: str) -> list[str]:
        clients.sagemaker.delete_endpoint(EndpointName=name)
        recorder.events.append(("teardown", name))
        return [f"endpoint/{name}"]

    run_destroy(
        plan=check(sagemaker=clients.sagemaker, s3=clients.s3, ecr=clients.ecr, project=PROJECT),
        project=PROJECT,
        clients=clients,
        teardown=tear if teardown else None,
        empty=empty,
        run_cdktf=recorder.run,
        auto_approve=True,
        log=lambda _line: None,
        sleep=recorder.sleep,
    )


def test_an_empty_project_without_endpoints_is_destroyed_deploy_stack_first(clients: Any) -> None:
    recorder = Recorder()
    _destroy(clients, recorder)
    [(kind, argv)] = recorder.events
    assert kind == "cdktf"
    assert argv[:4] == ["npx", "--no-install", "cdktf", "destroy"]
    assert argv[4:7] == list(DESTROY_ORDER) == ["DeployPipelineStack", "TrainPipelineStack", "BuildPipelineStack"]


def test_a_live_endpoint_refuses_the_destroy_and_changes_nothing(clients: Any) -> None:
    _endpoint(clients)
    recorder = Recorder()
    with pytest.raises(UserInputError, match=r"scikit-byo-endpoint.*execution role must outlive") as refused:
        _destroy(clients, recorder)
    assert "nothing was changed" in str(refused.value)
    assert recorder.events == []
    assert clients.sagemaker.describe_endpoint(EndpointName="scikit-byo-endpoint")["EndpointStatus"]


def test_contents_refuse_the_destroy_unless_emptying_was_asked_for(clients: Any) -> None:
    _fill(clients)
    recorder = Recorder()
    with pytest.raises(UserInputError) as refused:
        _destroy(clients, recorder)
    message = str(refused.value)
    assert "bucket lake holds objects" in message and "ECR repository repo holds 1 image" in message
    assert "model package group scikit-byo holds 1 version" in message and "--empty" in message
    assert recorder.events == []
    assert clients.s3.list_object_versions(Bucket="lake")["Versions"]  # untouched


def test_teardown_then_wait_then_empty_then_destroy(clients: Any) -> None:
    _endpoint(clients)
    _fill(clients)
    recorder = Recorder()
    _destroy(clients, recorder, teardown=True, empty=True)
    kinds = [e[0] for e in recorder.events]
    assert kinds == ["teardown", "sleep", "cdktf"]  # the role outlives the endpoint's clean-up
    assert recorder.events[1] == ("sleep", GRANT_CLEANUP_SECONDS)
    page = clients.s3.list_object_versions(Bucket="lake")
    assert not page.get("Versions") and not page.get("DeleteMarkers")
    assert clients.ecr.list_images(repositoryName="repo")["imageIds"] == []
    assert clients.sagemaker.list_model_packages(ModelPackageGroupName="scikit-byo")["ModelPackageSummaryList"] == []


def test_a_running_training_job_refuses_the_destroy(clients: Any) -> None:
    plan = check(sagemaker=clients.sagemaker, s3=clients.s3, ecr=clients.ecr, project=PROJECT)
    running = type(plan)(endpoints=[], jobs=["training job scikit-byo-abc (InProgress)"], held=plan.held)
    assert running.refusals(teardown=True, empty=True) == [
        "job still running: training job scikit-byo-abc (InProgress); wait for it or stop it"
    ]
