"""The CloudWatch alarms SageMaker's blue/green update watches to roll back on its own."""

from __future__ import annotations

from cdktn_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import ALARM_EVALUATION_PERIODS, ALARM_PERIOD_SECONDS, VARIANT_NAME

PERIOD_SECONDS = ALARM_PERIOD_SECONDS


class EndpointAlarms(Construct):
    """Error rate (5XX over invocations) and p99 model latency on ``config.endpoint_name``, both fleets.

    These watch the whole endpoint for the operators. A blue/green update's auto-rollback watches
    alarms of the new fleet only, which the deploy puts once it knows the new config's name
    (ml/backends/sagemaker/guardrail_alarms.py): SageMaker stops a deployment whose old fleet trips
    an alarm. Missing data is "not breaching": an idle endpoint must not raise an alarm.
    """

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig) -> None:
        super().__init__(scope, id_)
        dimensions = {"EndpointName": config.endpoint_name, "VariantName": VARIANT_NAME}

        def metric(id_: str, name: str) -> CloudwatchMetricAlarmMetricQuery:
            return CloudwatchMetricAlarmMetricQuery(
                id=id_,
                metric=CloudwatchMetricAlarmMetricQueryMetric(
                    namespace="AWS/SageMaker", metric_name=name, dimensions=dimensions, period=PERIOD_SECONDS, stat="Sum"
                ),
            )

        self.errors = CloudwatchMetricAlarm(
            self,
            "errors",
            alarm_name=f"{config.endpoint_name}-5xx-error-rate",
            alarm_description=f"5XX errors above {config.alarm_error_rate_percent}% of invocations; blue/green rolls back",
            comparison_operator="GreaterThanThreshold",
            threshold=config.alarm_error_rate_percent,
            evaluation_periods=ALARM_EVALUATION_PERIODS,
            datapoints_to_alarm=ALARM_EVALUATION_PERIODS,
            treat_missing_data="notBreaching",
            metric_query=[
                metric("errors", "Invocation5XXErrors"),
                metric("invocations", "Invocations"),
                CloudwatchMetricAlarmMetricQuery(
                    id="rate", expression="IF(invocations > 0, 100 * errors / invocations, 0)", label="5XX %", return_data=True
                ),
            ],
        )
        self.latency = CloudwatchMetricAlarm(
            self,
            "latency",
            alarm_name=f"{config.endpoint_name}-p99-model-latency",
            alarm_description=f"p99 ModelLatency above {config.alarm_p99_latency_ms} ms; blue/green rolls back",
            namespace="AWS/SageMaker",
            metric_name="ModelLatency",
            dimensions=dimensions,
            extended_statistic="p99",
            period=PERIOD_SECONDS,
            # ModelLatency is reported in microseconds.
            threshold=config.alarm_p99_latency_ms * 1000,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=ALARM_EVALUATION_PERIODS,
            datapoints_to_alarm=ALARM_EVALUATION_PERIODS,
            treat_missing_data="notBreaching",
        )
        self.alarms = [self.errors, self.latency]
        self.names: list[str] = [a.alarm_name for a in self.alarms]
        self.arns: list[str] = [a.arn for a in self.alarms]
