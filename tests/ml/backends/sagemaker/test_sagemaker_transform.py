"""Batch transform across instances on AWS: the instance count, the split into the data lake, one
job over the parts, the join back into one ``<input>.out``, and every failure on the way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sagemaker_fakes import EndpointFake, FakeClock, TrainingStatusFake, TransformStatusFake, record_calls
from sagemaker_setup import REPO_ROOT, TEST_DATALAKE, TEST_REGION, push_fake_image

from ml.backends.records import ImageRecord
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.clients import AwsClients
from ml.config import load_config
from ml.errors import AwsError, JobFailedError, UserInputError
from ml.tfstate import StackOutputs

INPUT_KEY = "iris/input/iris.csv"
ROWS = [f"{label},{i % 7}.{i % 10},3.{i % 5},1.4,0.2" for i, label in enumerate(["setosa", "versicolor", "virginica"] * 14)]
CSV = ("\n".join(ROWS) + "\n").encode()  # 42 records
MakeBackend = Callable[..., SageMakerBackend]


@pytest.fixture
def make(outputs: StackOutputs, clients: AwsClients, tmp_path: Path) -> MakeBackend:
    """A backend with configuration overrides, its version 1 trained and approved, on ``CSV``."""
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key=INPUT_KEY, Body=CSV)
    pushed = push_fake_image(clients, "abc1234def56")
    made: list[SageMakerBackend] = []

    def build(**overrides: Any) -> SageMakerBackend:
        config = load_config(REPO_ROOT / "cdktf.json", overrides={"region": TEST_REGION, **overrides})
        sm = EndpointFake(TransformStatusFake(TrainingStatusFake(clients.sagemaker), s3=clients.s3, logs=clients.logs))
        wired = dataclasses.replace(clients, sagemaker=sm)
        backend = SageMakerBackend(
            config=config, root=tmp_path / f"b{len(made)}", outputs=outputs, clients=wired, clock=FakeClock(), builder="docker"
        )
        backend.state.record_image(
            ImageRecord(uri=f"{outputs.ecr_repository_url}@{pushed}", digest=pushed, tag="abc1234def56", builder="docker")
        )
        if not made:
            version = backend.register(job_name=backend.train().name).version
            backend.approve(version=version)
        made.append(backend)
        return backend

    return build


def read(clients: AwsClients, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def left_under(clients: AwsClients, prefix: str) -> list[str]:
    """Every version (and delete marker) of every object under ``prefix``: what the data lake still holds."""
    listed = clients.s3.list_object_versions(Bucket=TEST_DATALAKE, Prefix=prefix)
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def test_three_instances_over_the_split_parts_give_the_unsplit_output(make: MakeBackend, clients: AwsClients) -> None:
    calls = record_calls(clients.sagemaker, "CreateTransformJob")
    whole = make(transform_split_objects=0).transform()
    split = make(transform_instance_count=3).transform()
    unsplit, parted = calls
    assert unsplit["TransformResources"]["InstanceCount"] == 1
    assert unsplit["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{TEST_DATALAKE}/{INPUT_KEY}"
    assert parted["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 3}
    prefix = parted["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert prefix == f"s3://{TEST_DATALAKE}/transform-splits/{split.name}/input/"
    assert parted["TransformOutput"]["S3OutputPath"] == f"s3://{TEST_DATALAKE}/transform-splits/{split.name}/output/{split.name}/"
    assert (split.split_parts, split.instance_count) == (12, 3)  # 4 parts per instance by default
    joined = read(clients, f"{split.output_uri}iris.csv.out")
    assert joined == read(clients, f"{whole.output_uri}iris.csv.out")  # byte-identical to the unsplit job
    assert joined.splitlines()[5] == (ROWS[5] + "," + ROWS[5].split(",")[0]).encode()  # the fake model's answer, in order
    assert left_under(clients, "transform-splits/") == []  # parts, outputs, manifest: deleted by version


def test_the_parts_are_whole_records_in_input_order(make: MakeBackend, clients: AwsClients) -> None:
    backend = make(transform_instance_count=2)
    fake = backend.clients.sagemaker.real
    parts: list[bytes] = []
    original = fake.create_transform_job

    def look(**request: Any) -> Any:  # the parts as the job sees them (they are gone after the join)
        listed = clients.s3.list_objects_v2(Bucket=TEST_DATALAKE, Prefix=f"transform-splits/{request['TransformJobName']}/input/")
        parts.extend(read(clients, f"s3://{TEST_DATALAKE}/{item['Key']}") for item in listed["Contents"])
        return original(**request)

    fake.create_transform_job = look
    backend.transform()
    assert len(parts) == 8 and b"".join(parts) == CSV
    assert all(part.endswith(b"\n") and len(part.splitlines()) in (5, 6) for part in parts)


def test_a_failing_part_fails_the_job_naming_the_part_its_records_and_the_models_error(make: MakeBackend, clients: AwsClients) -> None:
    bad = ROWS.copy()
    bad[24] = "setosa,5.1,not-a-number,1.4,0.2"  # record 25: in part 3 of 4, records 23-32 (cut by bytes)
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/input/bad.csv", Body=("\n".join(bad) + "\n").encode())
    backend = make(transform_instance_count=2, transform_split_objects=4)
    with pytest.raises(JobFailedError) as caught:
        backend.transform(data=f"s3://{TEST_DATALAKE}/iris/input/bad.csv")
    message = str(caught.value)
    assert f"part-00003.csv (records 23-32 of s3://{TEST_DATALAKE}/iris/input/bad.csv)" in message
    assert "'not-a-number' is not a number" in message  # what the job's data log says of that part
    assert "part-00001.csv" not in message and "part-00004.csv" not in message  # they succeeded
    joined = clients.s3.list_objects_v2(Bucket=TEST_DATALAKE, Prefix="iris/output/")
    assert not any(item["Key"].endswith("bad.csv.out") for item in joined.get("Contents", []))  # nothing looks complete


def test_a_join_that_fails_half_way_leaves_no_output(make: MakeBackend, clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    # Large enough that the join has uploaded parts (S3 multipart) before the second output fails to read.
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key=INPUT_KEY, Body=CSV * 14_000)
    backend = make(transform_split_objects=2)
    uploads = record_calls(clients.s3, "UploadPart")
    real_get = clients.s3.get_object

    def flaky(**kwargs: Any) -> Any:
        if kwargs["Key"].endswith("part-00002.csv.out"):
            raise AwsError("reading part-00002.csv.out: connection reset")
        return real_get(**kwargs)

    monkeypatch.setattr(clients.s3, "get_object", flaky)
    with pytest.raises(AwsError, match="connection reset"):
        backend.transform()
    assert any(call["Key"].startswith("iris/output/") for call in uploads)  # the join had begun uploading
    listed = clients.s3.list_objects_v2(Bucket=TEST_DATALAKE, Prefix="iris/output/")
    assert [item["Key"] for item in listed.get("Contents", [])] == []  # no output, not even a partial one
    assert clients.s3.list_multipart_uploads(Bucket=TEST_DATALAKE).get("Uploads", []) == []  # the upload was aborted
    monkeypatch.setattr(clients.s3, "get_object", real_get)
    again = backend.transform()  # the re-run reuses the completed job and its parts, and joins
    assert read(clients, f"{again.output_uri}iris.csv.out").count(b"\n") == len(ROWS) * 14_000
    assert left_under(clients, "transform-splits/") == []


def test_a_large_object_is_streamed_through_multipart_uploads(make: MakeBackend, clients: AwsClients) -> None:
    big = CSV * 12_000  # 504,000 records, about 17 MB: more than two 8 MiB upload parts
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/input/big.csv", Body=big)
    uploads = record_calls(clients.s3, "UploadPart")
    job = make(transform_split_objects=2).transform(data=f"s3://{TEST_DATALAKE}/iris/input/big.csv")
    assert job.split_parts == 2
    assert uploads and all(len(call["Body"]) >= 5 << 20 for call in uploads[:1])  # parts of at least S3's 5 MiB
    joined = read(clients, f"{job.output_uri}big.csv.out")
    assert joined.count(b"\n") == len(ROWS) * 12_000 and joined.startswith((ROWS[0] + ",setosa\n").encode())


def test_a_quoted_newline_is_refused_and_nothing_of_the_split_is_kept(make: MakeBackend, clients: AwsClients) -> None:
    body = CSV * 400 + b'setosa,"5.1\n",3.5,1.4,0.2\n' + CSV
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/input/quoted.csv", Body=body)
    calls = record_calls(clients.sagemaker, "CreateTransformJob")
    backend = make(transform_instance_count=2)
    with pytest.raises(UserInputError, match=r"quoted\.csv line 16801: a quoted CSV field holds a newline"):
        backend.transform(data=f"s3://{TEST_DATALAKE}/iris/input/quoted.csv")
    assert calls == []  # no job started
    assert left_under(clients, "transform-splits/") == []  # the parts written before the refusal are gone


def test_a_prefix_is_spread_as_it_is(make: MakeBackend, clients: AwsClients) -> None:
    for k in range(3):
        clients.s3.put_object(Bucket=TEST_DATALAKE, Key=f"batch/f{k}.csv", Body=CSV)
    calls = record_calls(clients.sagemaker, "CreateTransformJob")
    job = make(transform_instance_count=3).transform(data=f"s3://{TEST_DATALAKE}/batch/")
    [request] = calls
    assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{TEST_DATALAKE}/batch/"
    assert (job.split_parts, job.instance_count) == (0, 3)
    assert read(clients, f"{job.output_uri}f1.csv.out").count(b"\n") == len(ROWS)
