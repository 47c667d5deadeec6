"""Model package group: register a trained job as a version, approve it, list versions.

A version is one CreateModelPackage call that carries its approval status and lineage, so there
is never a half-registered model: it exists complete, or not at all.
"""

from __future__ import annotations

import json
from typing import Any

from ml.backends.records import Lineage, ModelVersion, approval_note, decision, initial_status
from ml.backends.sagemaker.aws_errors import aws_call
from ml.backends.sagemaker.metadata import decode_properties, encode_properties
from ml.backends.sagemaker.naming import fingerprint
from ml.backends.sagemaker.training import TAG_COMMIT, TAG_DATA_VERSION, split_s3_uri
from ml.config import ProjectConfig
from ml.errors import NotFoundError, UserInputError
from ml.gitrev import split_commit_tag
from ml.tfstate import StackOutputs

META_JOB = "training_job"


def _lineage_properties(job: dict[str, Any], tags: dict[str, str], metrics: dict[str, float]) -> dict[str, str]:
    """CustomerMetadataProperties: escaped to the API's alphabet and limits (see :mod:`metadata`)."""
    fields = {
        META_JOB: job["TrainingJobName"],
        "image": job["AlgorithmSpecification"]["TrainingImage"],
        "git_commit": split_commit_tag(tags.get(TAG_COMMIT, "")).commit,
        "git_dirty": "true" if split_commit_tag(tags.get(TAG_COMMIT, "")).dirty else "",
        "data_version": tags.get(TAG_DATA_VERSION, ""),
        "data_uri": next((c["DataSource"]["S3DataSource"]["S3Uri"] for c in job.get("InputDataConfig", [])), ""),
    }
    hyperparameters = {str(k): str(v) for k, v in (job.get("HyperParameters") or {}).items()}
    return encode_properties(fields, hyperparameters=hyperparameters, metrics=metrics)


def version_from_description(package: dict[str, Any]) -> ModelVersion:
    container = (package.get("InferenceSpecification", {}).get("Containers") or [{}])[0]
    decoded, metrics = decode_properties(package.get("CustomerMetadataProperties") or {})
    lineage = Lineage.from_dict(decoded)
    return ModelVersion(
        group=package.get("ModelPackageGroupName", ""),
        version=int(package["ModelPackageVersion"]),
        approval_status=package.get("ModelApprovalStatus", "PendingManualApproval"),
        artifact_uri=container.get("ModelDataUrl", ""),
        image=container.get("Image", ""),
        training_job=lineage.training_job,
        metrics=metrics,
        lineage=lineage,
        created_at=str(package.get("CreationTime", "")),
        arn=package["ModelPackageArn"],
    )


class Registry:
    def __init__(self, *, sagemaker: Any, s3: Any, config: ProjectConfig, outputs: StackOutputs) -> None:
        self._sm, self._s3, self._config, self._outputs = sagemaker, s3, config, outputs

    @property
    def group(self) -> str:
        return self._outputs.model_package_group

    def list_versions(self) -> list[ModelVersion]:
        """Every version, newest first. The API sorts ascending unless told otherwise."""
        found: list[ModelVersion] = []
        with aws_call(service="sagemaker", action=f"listing model package group {self.group}"):
            kwargs: dict[str, Any] = {"ModelPackageGroupName": self.group, "SortBy": "CreationTime", "SortOrder": "Descending"}
            while True:
                page = self._sm.list_model_packages(**kwargs)
                for summary in page.get("ModelPackageSummaryList", []):
                    found.append(version_from_description(self._sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        # Version numbers only grow, so they order exactly even when creation times tie.
        return sorted(found, key=lambda v: v.version, reverse=True)

    def get(self, version: int) -> ModelVersion:
        for candidate in self.list_versions():
            if candidate.version == version:
                return candidate
        raise NotFoundError(f"model version {version} does not exist in group {self.group}; see `invoke versions`")

    def register(
        self, *, job: dict[str, Any], tags: dict[str, str], metrics: dict[str, float], approval_status: str | None
    ) -> ModelVersion:
        name = job["TrainingJobName"]
        if job["TrainingJobStatus"] != "Completed":
            raise UserInputError(
                f"training job {name} is {job['TrainingJobStatus']}, not Completed; only a completed job can be registered"
            )
        for existing in self.list_versions():
            if existing.training_job == name:
                return existing  # a re-run after success: the version already exists
        status = initial_status(approval_status or self._config.model_approval_status)
        artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
        request: dict[str, Any] = {
            "ModelPackageGroupName": self.group,
            "ModelPackageDescription": f"trained by {name}",
            "InferenceSpecification": {
                "Containers": [{"Image": job["AlgorithmSpecification"]["TrainingImage"], "ModelDataUrl": artifact}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": [self._config.hosting_instance_type],
                "SupportedTransformInstanceTypes": [self._config.transform_instance_type],
            },
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": _lineage_properties(job, tags, metrics),
            # The same token for the same job makes a retried call return the first version.
            "ClientToken": fingerprint("register", name, length=32),
        }
        if metrics:
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": self._put_metrics(artifact, metrics)}}
            }
        with aws_call(service="sagemaker", action=f"registering {name} in model package group {self.group}"):
            arn = self._sm.create_model_package(**request)["ModelPackageArn"]
            return version_from_description(self._sm.describe_model_package(ModelPackageName=arn))

    def _put_metrics(self, artifact_uri: str, metrics: dict[str, float]) -> str:
        # Next to model.tar.gz (<prefix>/<job>/output/), uploaded before the package exists.
        bucket, key = split_s3_uri(artifact_uri)
        metrics_key = key.rsplit("/", 1)[0] + "/metrics.json"
        body = json.dumps({"metrics": {name: {"value": value} for name, value in metrics.items()}}, sort_keys=True)
        with aws_call(service="s3", action=f"uploading metrics to s3://{bucket}/{metrics_key}"):
            self._s3.put_object(Bucket=bucket, Key=metrics_key, Body=body.encode("utf-8"), ContentType="application/json")
        return f"s3://{bucket}/{metrics_key}"

    def approve(self, *, version: int, status: str, note: str) -> ModelVersion:
        status, note = decision(status), approval_note(note)  # the contract: see Backend.approve
        target = self.get(version)
        if target.approval_status == status:
            return target  # the same decision again changes nothing (the Backend contract)
        request: dict[str, Any] = {"ModelPackageArn": target.arn, "ModelApprovalStatus": status}
        if note:
            request["ApprovalDescription"] = note
        with aws_call(service="sagemaker", action=f"setting model version {version} to {status}"):
            self._sm.update_model_package(**request)
        return self.get(version)
