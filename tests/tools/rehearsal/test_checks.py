"""A stage passes only when it did what AWS would have done."""

from __future__ import annotations

from typing import Any

import pytest
from rehearsal_fake import Fake
from test_ecr_fake import REPO, push

from ml.tfstate import REQUIRED_OUTPUTS, StackOutputs
from tools.rehearsal.checks import StageChecks
from tools.rehearsal.faults import REASONS
from tools.rehearsal.plan import Stage

COMMIT = "0123456789ab" + "c" * 28


def checks(fake: Fake, sagemaker: Any = None, s3: Any = None) -> StageChecks:
    placeholders: dict[str, Any] = {name.value: f"unused-{name.value}" for names in REQUIRED_OUTPUTS.values() for name in names}
    outputs = StackOutputs(
        **{
            **placeholders,
            "alarm_names": (),
            "ecr_repository_name": REPO,
            "model_package_group": "group",
            "endpoint_name": "ep",
            "datalake_bucket": "lake",
        }
    )
    return StageChecks(registry=fake.registry.client, sagemaker=sagemaker, s3=s3, outputs=outputs, commit=COMMIT, project="scikit-byo")


def test_an_injected_failure_must_fail_and_say_why(fake: Fake) -> None:
    stage = Stage(name="t", pipeline="train", fault="training-failed")
    assert checks(fake).outcome(stage, succeeded=True, output="")[0].startswith("expected a failure")
    assert "does not carry the reason" in checks(fake).outcome(stage, succeeded=False, output="error: boom")[0]
    assert checks(fake).outcome(stage, succeeded=False, output=f"error: {REASONS['training-failed']}")[0] == ""
    assert checks(fake).outcome(Stage(name="t", pipeline="train"), succeeded=False, output="")[0] == "the build failed"


def test_the_build_must_record_the_registrys_digest_and_latest_must_follow(fake: Fake) -> None:
    stage = Stage(name="b", pipeline="build")
    digest = push(fake, COMMIT, b"image")
    assert "latest is None" in checks(fake).image(stage, output=f"@{digest}", before=None)[0]
    push(fake, "latest", b"image")
    assert "did not record" in checks(fake).image(stage, output="@sha256:" + "0" * 64, before=None)[0]
    assert checks(fake).image(stage, output=f"uri repo@{digest}", before=None)[0] == ""


def test_a_rerun_must_leave_the_commit_tag_where_it_was(fake: Fake) -> None:
    rerun = Stage(name="b2", pipeline="build", expect_converged=True)
    digest = push(fake, COMMIT, b"image")
    push(fake, "latest", b"image")
    assert "needs an earlier push" in checks(fake).image(rerun, output=f"@{digest}", before=None)[0]
    assert "an immutable tag must converge" in checks(fake).image(rerun, output=f"@{digest}", before="sha256:" + "1" * 64)[0]
    assert checks(fake).image(rerun, output=f"@{digest}", before=digest) == ("", f"converged: {REPO}:{COMMIT} still {digest[:19]}…")


@pytest.mark.usefixtures("registry")
def test_teardown_must_leave_nothing_of_the_project(fake: Fake) -> None:
    sm = fake.client("sagemaker")
    assert checks(fake, sm).clean() == ("", "nothing left behind")
    sm.create_model(
        ModelName="scikit-byo-transform-v2-abc", PrimaryContainer={"Image": "x"}, ExecutionRoleArn="arn:aws:iam::123456789012:role/r"
    )
    assert checks(fake, sm).clean()[0] == "teardown left model/scikit-byo-transform-v2-abc behind"


@pytest.mark.usefixtures("registry")
def test_a_train_stage_must_leave_the_new_version_with_its_report_in_the_data_lake(fake: Fake) -> None:
    sm, s3 = fake.client("sagemaker"), fake.client("s3")
    sm.create_model_package_group(ModelPackageGroupName="group")
    arn = sm.create_model_package(
        ModelPackageGroupName="group",
        InferenceSpecification={
            "Containers": [{"Image": "x"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    assert "carries no training report" in checks(fake, sm, s3).report()[0]
    uri = "s3://lake/reports/group/000001/index.html"
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"report": uri.replace("=", "=3D")})
    assert "is not in the data lake" in checks(fake, sm, s3).report()[0]
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="reports/group/000001/index.html", Body=b"<html>report</html>")
    assert checks(fake, sm, s3).report() == ("", f"training report {uri} (19 bytes)")


@pytest.mark.usefixtures("registry")
def test_a_transform_stage_must_join_one_line_per_record_in_order_and_delete_the_split(fake: Fake) -> None:
    s3 = fake.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="lake", Key="iris/input/iris.csv", Body=b"a,1\nb,2\nc,3\n")
    said = "joined the 3 parts' outputs into s3://lake/iris/output/job/iris.csv.out"
    assert "did not split its input" in checks(fake, s3=s3).joined("started transform job")[0]
    s3.put_object(Bucket="lake", Key="iris/output/job/iris.csv.out", Body=b"a,1,a\nc,3,c\nb,2,b\n")  # out of order
    assert "one line per record" in checks(fake, s3=s3).joined(said)[0]
    s3.put_object(Bucket="lake", Key="iris/output/job/iris.csv.out", Body=b"a,1,a\nb,2,b\n")  # one missing
    assert "one line per record" in checks(fake, s3=s3).joined(said)[0]
    s3.put_object(Bucket="lake", Key="iris/output/job/iris.csv.out", Body=b"a,1,a\nb,2,b\nc,3,c\n")
    s3.put_object(Bucket="lake", Key="transform-splits/job/input/part-00001.csv", Body=b"a,1\n")
    assert "was not deleted" in checks(fake, s3=s3).joined(said)[0]
    version = s3.head_object(Bucket="lake", Key="transform-splits/job/input/part-00001.csv")["VersionId"]
    s3.delete_object(Bucket="lake", Key="transform-splits/job/input/part-00001.csv", VersionId=version)
    assert checks(fake, s3=s3).joined(said) == ("", "3 parts joined into s3://lake/iris/output/job/iris.csv.out (3 records, in order)")
