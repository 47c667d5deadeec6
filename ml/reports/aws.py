"""Reports on AWS: made where the train pipeline registers, kept in the data lake, linked from the package.

``invoke report --backend sagemaker`` (the train buildspec's last line) downloads the version's
``model.tar.gz`` and its training data, scores it (and the version the endpoint serves) exactly
as the local backend does, and uploads the folder twice to the data lake (the bucket is the
train stack's output, never configured a second time):

- ``reports/<group>/<version>/``: the version's own report, whose ``index.html`` URI goes on the
  model package as the ``report`` CustomerMetadataProperty (escaped by :mod:`metadata`);
- ``reports/<group>/candidate/``: the newest candidate's report, the fixed address the deploy
  pipeline's manual approval links to (its ExternalEntityLink), so the approval email reaches it.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ml.backends.records import ModelVersion
from ml.backends.sagemaker import metadata
from ml.backends.sagemaker.aws_errors import aws_call
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.metadata import decode, encode
from ml.backends.sagemaker.training import split_s3_uri
from ml.errors import NotFoundError, StateError, UserInputError
from ml.names import CANDIDATE_REPORT, REPORTS_PREFIX, candidate_report_key
from ml.reports.baseline import summarize
from ml.reports.folder import INDEX, ReportFiles, write_report
from ml.reports.page import Scored
from ml.reports.predict import evaluate
from ml.reports.scores import score

REPORT_PROPERTY = metadata.REPORT  # the model package's CustomerMetadataProperties key for the report URI
_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png", ".json": "application/json"}


def report_prefix(group: str, name: str) -> str:
    """``reports/<group>/<name>/``: ``name`` is a zero-padded version number or ``candidate``."""
    return f"{REPORTS_PREFIX}/{group}/{name}/"


candidate_key = candidate_report_key  # the page the deploy pipeline's approval links to


def _download(s3: Any, uri: str, to: Path) -> Path:
    bucket, key = split_s3_uri(uri)
    if not key or key.endswith("/"):
        raise UserInputError(f"{uri} names a prefix; a report reads one CSV object (the default training data)")
    with aws_call(service="s3", action=f"downloading {uri}"):
        s3.download_file(bucket, key, str(to))
    return to


def _model_dir(s3: Any, version: ModelVersion, work: Path) -> Path:
    archive = _download(s3, version.artifact_uri, work / f"model-{version.version}.tar.gz")
    model_dir = work / f"model-{version.version}"
    model_dir.mkdir()
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def _upload(s3: Any, files: ReportFiles, bucket: str, prefix: str) -> str:
    for path in files.files:
        with aws_call(service="s3", action=f"uploading s3://{bucket}/{prefix}{path.name}"):
            s3.upload_file(str(path), bucket, prefix + path.name, ExtraArgs={"ContentType": _TYPES[path.suffix]})
    return f"s3://{bucket}/{prefix}{files.index.name}"


def _properties_with(sagemaker: Any, version: ModelVersion, uri: str) -> dict[str, str]:
    """The package's properties with the report's URI, checked against SageMaker's limits first."""
    with aws_call(service="sagemaker", action=f"reading model version {version.version}"):
        package = sagemaker.describe_model_package(ModelPackageName=version.arn)
    properties = dict(package.get("CustomerMetadataProperties") or {})
    return metadata.with_property(properties, REPORT_PROPERTY, uri, owner=f"model version {version.version}")


def _record_uri(sagemaker: Any, version: ModelVersion, properties: dict[str, str]) -> None:
    # The whole set, so the request means the same whether a service merges the properties (AWS)
    # or replaces them. No ModelApprovalStatus: the train role may not set one (modules/stacks/train.py).
    with aws_call(service="sagemaker", action=f"recording the report of model version {version.version}"):
        sagemaker.update_model_package(ModelPackageArn=version.arn, CustomerMetadataProperties=properties)


def report_uri(package: dict[str, Any]) -> str:
    """The report URI a model package description carries, or "" when none was recorded."""
    return decode((package.get("CustomerMetadataProperties") or {}).get(encode(REPORT_PROPERTY), ""))


def publish_report(backend: SageMakerBackend, *, version: int) -> str:
    """Write, upload and record ``version``'s report; returns its ``s3://`` URI."""
    candidate = backend.registry.get(version)
    if not candidate.metrics:
        raise UserInputError(f"model version {version} has no metrics; retrain it with `invoke train --backend sagemaker`")
    try:
        serving_number: int | None = backend.describe_endpoint(endpoint_name=backend.config.endpoint_name).version
    except NotFoundError:
        serving_number = None
    serving = backend.registry.get(serving_number) if serving_number and serving_number != version else None
    already = serving_number == version  # the candidate serves: the page says so, and nothing is scored twice
    s3, bucket, group = backend.clients.s3, backend.outputs.datalake_bucket, candidate.group
    uri = f"s3://{bucket}/{report_prefix(group, f'{version:06d}')}{INDEX}"
    properties = _properties_with(backend.clients.sagemaker, candidate, uri)  # fails before anything is uploaded
    with tempfile.TemporaryDirectory(prefix="byoc-report-") as tmp:
        work = Path(tmp)
        data = _download(s3, candidate.lineage.data_uri, work / "data.csv")
        scored = []
        for each in (candidate, serving):
            if each is not None:
                result = evaluate(model_dir=_model_dir(s3, each, work), data=data)
                scored.append(Scored(version=each, scores=score(result.labels, result.predictions)))
        files = write_report(
            folder=work / "report",
            candidate=scored[0],
            serving=scored[1] if len(scored) > 1 else (scored[0] if already else None),
            baseline=summarize(work / f"model-{candidate.version}"),
            data=candidate.lineage.data_uri,
        )
        uploaded = _upload(s3, files, bucket, report_prefix(group, f"{version:06d}"))
        _upload(s3, files, bucket, report_prefix(group, CANDIDATE_REPORT))
    if uploaded != uri:
        raise StateError(f"the report was uploaded to {uploaded}, not {uri} as recorded; report this as a bug")
    _record_uri(backend.clients.sagemaker, candidate, properties)
    return uri
