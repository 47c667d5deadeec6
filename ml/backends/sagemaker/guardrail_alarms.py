"""The alarms a blue/green update's auto-rollback watches: the new fleet's, and only the new fleet's.

SageMaker's "Auto-Rollback Configuration and Monitoring" page: with an alarm on the endpoint and
variant alone, "if your old fleet trips the alarm during the deployment, SageMaker terminates your
deployment", so a fix could not be rolled out during an incident. Its remedy is an alarm that
adds the dimension ``EndpointConfigName`` with the new config's name: "CloudWatch publishes the
metrics with the dimension EndpointConfigName:{New-Ep-Config} after the new fleet starts receiving
traffic". That name exists only once the deploy has made the config, so these alarms are put
(PutMetricAlarm creates or replaces an alarm of that name) right before UpdateEndpoint, with the
thresholds of the stack's whole-endpoint alarms, and deleted by teardown.
"""

from __future__ import annotations

from typing import Any

from ml.backends.sagemaker.aws_errors import aws_call
from ml.config import ProjectConfig
from ml.names import ALARM_EVALUATION_PERIODS, ALARM_PERIOD_SECONDS, VARIANT_NAME, new_fleet_alarm_names


def _dimensions(config: ProjectConfig, *, endpoint_name: str, config_name: str) -> list[dict[str, str]]:
    return [
        {"Name": "EndpointName", "Value": endpoint_name},
        {"Name": "VariantName", "Value": VARIANT_NAME},
        {"Name": "EndpointConfigName", "Value": config_name},
    ]


def alarm_requests(config: ProjectConfig, *, endpoint_name: str, config_name: str) -> list[dict[str, Any]]:
    """The two PutMetricAlarm requests: 5XX share of invocations, and p99 ModelLatency, of ``config_name``'s fleet."""
    errors_name, latency_name = new_fleet_alarm_names(endpoint_name)
    dimensions = _dimensions(config, endpoint_name=endpoint_name, config_name=config_name)
    common = {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": ALARM_EVALUATION_PERIODS,
        "DatapointsToAlarm": ALARM_EVALUATION_PERIODS,
        # An idle new fleet publishes nothing, and must not roll the deployment back.
        "TreatMissingData": "notBreaching",
    }

    def stat(id_: str, metric: str) -> dict[str, Any]:
        metric_stat = {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions}}
        return {"Id": id_, "MetricStat": {**metric_stat, "Period": ALARM_PERIOD_SECONDS, "Stat": "Sum"}, "ReturnData": False}

    errors = {
        "AlarmName": errors_name,
        "AlarmDescription": f"5XX errors of the new fleet ({config_name}) above {config.alarm_error_rate_percent}% of its "
        "invocations; the blue/green update rolls back",
        "Threshold": float(config.alarm_error_rate_percent),
        "Metrics": [
            stat("errors", "Invocation5XXErrors"),
            stat("invocations", "Invocations"),
            {"Id": "rate", "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)", "Label": "5XX %", "ReturnData": True},
        ],
        **common,
    }
    latency = {
        "AlarmName": latency_name,
        "AlarmDescription": f"p99 ModelLatency of the new fleet ({config_name}) above {config.alarm_p99_latency_ms} ms; "
        "the blue/green update rolls back",
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        "Dimensions": dimensions,
        "ExtendedStatistic": "p99",
        "Period": ALARM_PERIOD_SECONDS,
        "Threshold": float(config.alarm_p99_latency_ms * 1000),  # ModelLatency is in microseconds
        **common,
    }
    return [errors, latency]


def put_new_fleet_alarms(cloudwatch: Any, config: ProjectConfig, *, endpoint_name: str, config_name: str) -> tuple[str, ...]:
    """Point the update's alarms at ``config_name``'s fleet; returns their names for AutoRollbackConfiguration."""
    requests = alarm_requests(config, endpoint_name=endpoint_name, config_name=config_name)
    with aws_call(service="cloudwatch", action=f"putting the new-fleet alarms of {endpoint_name}"):
        for request in requests:
            cloudwatch.put_metric_alarm(**request)
    return tuple(r["AlarmName"] for r in requests)


def delete_new_fleet_alarms(cloudwatch: Any, endpoint_name: str) -> list[str]:
    """Delete the update alarms that exist (DeleteAlarms fails on a name that does not)."""
    names = list(new_fleet_alarm_names(endpoint_name))
    with aws_call(service="cloudwatch", action=f"deleting the new-fleet alarms of {endpoint_name}"):
        found = [a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", [])]
        if found:
            cloudwatch.delete_alarms(AlarmNames=found)
    return [f"alarm/{name}" for name in found]
