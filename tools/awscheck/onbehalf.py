"""Calls made with our roles by someone other than boto3: SageMaker, and an image push.

SageMaker runs jobs and endpoints as the execution role a request passes: it pulls the image,
reads the input, writes the output and the logs. A ``docker push`` (or buildah, podman) speaks
the registry protocol, which ECR authorizes as the ``ecr:*Layer*`` and ``ecr:PutImage`` actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ml.backends.sagemaker.capture import hour_prefix
from ml.backends.sagemaker.hosting import TAG_ENDPOINT
from tools.awscheck.calls import Call

SAGEMAKER = "SageMaker (execution role)"
PUSH = "image push (registry protocol)"
# AWS's list for pushing to ECR with a registry client, besides GetAuthorizationToken.
PUSH_OPERATIONS = (
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
    "BatchGetImage",
)
PULL_OPERATIONS = ("BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability")
# A made-up instance and host id: SageMaker names each log stream after the job and the host.
HOST = "algo-1-1700000000"
CAPTURE_HOUR = datetime(2026, 1, 1, 0, tzinfo=UTC)  # any hour: the grant must cover every one


def push_calls(task: str, repository: str) -> list[Call]:
    """What a registry client's push of one image to ``repository`` needs."""
    return [Call(task=task, service="ecr", operation=op, params={"repositoryName": repository}, via=PUSH) for op in PUSH_OPERATIONS]


def _call(task: str, service: str, operation: str, params: Mapping[str, Any]) -> Call:
    return Call(task=task, service=service, operation=operation, params=dict(params), via=SAGEMAKER)


def _pull(task: str, image: str) -> list[Call]:
    repository = image.split("/", 1)[1].split("@", 1)[0].split(":", 1)[0]
    ops = [_call(task, "ecr", "GetAuthorizationToken", {})]
    return ops + [_call(task, "ecr", op, {"repositoryName": repository}) for op in PULL_OPERATIONS]


def _s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _read(task: str, uri: str) -> list[Call]:
    bucket, key = _s3(uri)
    return [
        _call(task, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": key}),
        _call(task, "s3", "GetObject", {"Bucket": bucket, "Key": key}),
    ]


def _write(task: str, uri: str) -> list[Call]:
    bucket, key = _s3(uri)
    return [_call(task, "s3", "PutObject", {"Bucket": bucket, "Key": key})]


def _logs(task: str, group: str, stream: str) -> list[Call]:
    return [
        _call(task, "logs", "CreateLogGroup", {"logGroupName": group}),
        _call(task, "logs", "DescribeLogStreams", {"logGroupName": group}),
        _call(task, "logs", "CreateLogStream", {"logGroupName": group, "logStreamName": stream}),
        _call(task, "logs", "PutLogEvents", {"logGroupName": group, "logStreamName": stream}),
    ]


def _metrics(task: str, namespace: str) -> list[Call]:
    return [_call(task, "cloudwatch", "PutMetricData", {"Namespace": namespace})]


def _training(task: str, p: Mapping[str, Any]) -> list[Call]:
    job = p["TrainingJobName"]
    found = _pull(task, p["AlgorithmSpecification"]["TrainingImage"])
    for channel in p.get("InputDataConfig", []):
        found += _read(task, channel["DataSource"]["S3DataSource"]["S3Uri"])
    found += _write(task, f"{p['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job}/output/model.tar.gz")
    if "CheckpointConfig" in p:
        checkpoint = f"{p['CheckpointConfig']['S3Uri'].rstrip('/')}/checkpoint"
        found += _read(task, checkpoint) + _write(task, checkpoint)
    return found + _logs(task, "/aws/sagemaker/TrainingJobs", f"{job}/{HOST}") + _metrics(task, "/aws/sagemaker/TrainingJobs")


def _model(task: str, p: Mapping[str, Any]) -> list[Call]:
    container = p["PrimaryContainer"]
    return _pull(task, container["Image"]) + _read(task, container["ModelDataUrl"])


def _endpoint(task: str, p: Mapping[str, Any]) -> list[Call]:
    name = p["EndpointName"]
    return _logs(task, f"/aws/sagemaker/Endpoints/{name}", f"AllTraffic/{HOST}") + _metrics(task, "/aws/sagemaker/Endpoints")


def _endpoint_config(task: str, p: Mapping[str, Any]) -> list[Call]:
    # Data capture: the endpoint writes JSON Lines under <destination>/<endpoint>/<variant>/<hour>/
    # as the execution role, and with a KmsKeyId "the SageMaker execution role must include
    # permissions to call kms:Encrypt" (API reference, ProductionVariantCoreDumpConfig/DataCaptureConfig).
    capture = p.get("DataCaptureConfig")
    if not capture or not capture.get("EnableCapture", True):
        return []
    endpoint = next((t["Value"] for t in p.get("Tags", []) if t["Key"] == TAG_ENDPOINT), p["EndpointConfigName"])
    found = []
    for variant in p["ProductionVariants"]:
        prefix = hour_prefix(capture_prefix="", endpoint=endpoint, variant=variant["VariantName"], hour=CAPTURE_HOUR)
        found += _write(task, f"{capture['DestinationS3Uri'].rstrip('/')}{prefix}capture.jsonl")
    if "KmsKeyId" in capture:
        found.append(_call(task, "kms", "Encrypt", {"KeyId": capture["KmsKeyId"]}))
    return found


def _update(task: str, p: Mapping[str, Any]) -> list[Call]:
    # Deployment guardrails read the auto-rollback alarms as the execution role (SageMaker
    # guide, "Auto-Rollback Configuration and Monitoring").
    alarms = p.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", [])
    return [_call(task, "cloudwatch", "DescribeAlarms", {"AlarmNames": [a["AlarmName"] for a in alarms]})] if alarms else []


def _transform(task: str, p: Mapping[str, Any]) -> list[Call]:
    # Every object under the S3Uri prefix is read, and its output written as <S3OutputPath>/<name>.out
    # (TransformOutput); a prefix (a split input's parts) stands for the objects under it.
    job = p["TransformJobName"]
    source = p["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    name = "part-00001.csv" if source.endswith("/") else source.rsplit("/", 1)[-1]
    bucket, key = _s3(source)
    read = (
        _read(task, source)
        if not source.endswith("/")
        else [
            _call(task, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": key}),
            _call(task, "s3", "GetObject", {"Bucket": bucket, "Key": key + name}),
        ]
    )
    output = f"{p['TransformOutput']['S3OutputPath'].rstrip('/')}/{name}.out"
    return read + _write(task, output) + _logs(task, "/aws/sagemaker/TransformJobs", f"{job}/{HOST}")


_BY_OPERATION = {
    "CreateTrainingJob": _training,
    "CreateModel": _model,
    "CreateEndpoint": _endpoint,
    "CreateEndpointConfig": _endpoint_config,
    "UpdateEndpoint": _update,
    "CreateTransformJob": _transform,
}


AUTOSCALING = "Application Auto Scaling (with the caller's permissions)"
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
AUTOSCALING_ROLE = f"aws-service-role/{AUTOSCALING_SERVICE}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"


def autoscaling_calls(call: Call) -> list[Call]:
    """What Application Auto Scaling checks or does with the caller's own permissions.

    SageMaker's "Auto scaling prerequisites" lists them: it reads the endpoint and may set its
    capacity (DescribeEndpoint, UpdateEndpointWeightsAndCapacities), creates its service-linked
    role on first use (iam:CreateServiceLinkedRole for that one service), and a target-tracking
    policy creates and deletes CloudWatch alarms named ``TargetTracking-<resource id>-Alarm*``.
    """
    if call.service != "application-autoscaling":
        return []
    p, task = call.params, call.task

    def made(service: str, operation: str, params: Mapping[str, Any]) -> Call:
        return Call(task=task, service=service, operation=operation, params=dict(params), via=AUTOSCALING)

    if call.operation == "RegisterScalableTarget":
        endpoint = str(p["ResourceId"]).split("/")[1]
        return [
            made("sagemaker", "DescribeEndpoint", {"EndpointName": endpoint}),
            made("sagemaker", "UpdateEndpointWeightsAndCapacities", {"EndpointName": endpoint}),
            made("iam", "CreateServiceLinkedRole", {"AWSServiceName": AUTOSCALING_SERVICE, "RoleName": AUTOSCALING_ROLE}),
        ]
    if call.operation not in ("PutScalingPolicy", "DeleteScalingPolicy"):
        return []
    alarms = [f"TargetTracking-{p['ResourceId']}-Alarm{kind}-0f1e2d3c" for kind in ("High", "Low")]
    found = [made("cloudwatch", "DescribeAlarms", {"AlarmNames": alarms})]
    if call.operation == "PutScalingPolicy":
        return found + [made("cloudwatch", "PutMetricAlarm", {"AlarmName": name}) for name in alarms]
    return [*found, made("cloudwatch", "DeleteAlarms", {"AlarmNames": alarms})]


def sagemaker_calls(call: Call) -> list[Call]:
    """What SageMaker does as the execution role because of ``call`` (empty for other calls)."""
    made = _BY_OPERATION.get(call.operation) if call.service == "sagemaker" else None
    return made(call.task, call.params) if made else []
