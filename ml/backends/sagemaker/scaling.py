"""Autoscaling of the endpoint's variant with Application Auto Scaling (target tracking).

The variant is registered as a scalable target once the endpoint is InService, with a policy that
keeps ``SageMakerVariantInvocationsPerInstance`` at the configured target. SageMaker's guide
("Update endpoints that use auto scaling") says: before UpdateEndpoint, delete the scaling
policies and deregister the variant; after the endpoint is InService again, register it and put
the policy back. :meth:`Scaling.around_update` does exactly that, and registers again whatever
the update's outcome (an alarm rollback or a failed update also leaves an InService endpoint
that must keep scaling). Teardown deregisters before deleting the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ml.backends.base import LogSink
from ml.backends.sagemaker.aws_errors import aws_call
from ml.config import ProjectConfig
from ml.names import VARIANT_NAME

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


def resource_id(endpoint_name: str, variant: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant}"


def policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-invocations-per-instance"


class Scaling:
    def __init__(self, *, autoscaling: Any, config: ProjectConfig, on_log: LogSink | None = None) -> None:
        self._aas, self._config = autoscaling, config
        self._log = on_log or (lambda _line: None)

    def _target(self, endpoint_name: str) -> dict[str, str]:
        return {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": resource_id(endpoint_name, VARIANT_NAME),
            "ScalableDimension": DIMENSION,
        }

    def register(self, endpoint_name: str) -> None:
        """Register the variant and put the target-tracking policy (both calls are upserts)."""
        if not self._config.autoscaling_enabled:
            return
        target = self._target(endpoint_name)
        c = self._config
        with aws_call(service="application-autoscaling", action=f"registering {target['ResourceId']} for autoscaling"):
            self._aas.register_scalable_target(**target, MinCapacity=c.autoscaling_min_instances, MaxCapacity=c.autoscaling_max_instances)
            self._aas.put_scaling_policy(
                PolicyName=policy_name(endpoint_name),
                **target,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": float(c.autoscaling_target_invocations),
                    "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                    "ScaleInCooldown": c.autoscaling_scale_in_cooldown_seconds,
                    "ScaleOutCooldown": c.autoscaling_scale_out_cooldown_seconds,
                },
            )
        self._log(
            f"autoscaling {endpoint_name}: {c.autoscaling_min_instances}-{c.autoscaling_max_instances} instances, "
            f"target {c.autoscaling_target_invocations} invocations per instance"
        )

    def deregister(self, endpoint_name: str) -> bool:
        """Delete the policies and deregister the variant; False if it was not registered.

        Runs whatever ``autoscaling_enabled`` says now: a target registered while it was on must
        still go before an update or a teardown.
        """
        target = self._target(endpoint_name)
        with aws_call(service="application-autoscaling", action=f"deregistering {target['ResourceId']} from autoscaling"):
            found = self._aas.describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[target["ResourceId"]], ScalableDimension=DIMENSION
            )["ScalableTargets"]
            if not found:
                return False
            policies = self._aas.describe_scaling_policies(**target)["ScalingPolicies"]
            for policy in policies:
                self._aas.delete_scaling_policy(PolicyName=policy["PolicyName"], **target)
            self._aas.deregister_scalable_target(**target)
        self._log(f"autoscaling of {endpoint_name} suspended (deregistered)")
        return True

    @contextmanager
    def around_update(self, endpoint_name: str, *, settled: Callable[[], Any]) -> Iterator[None]:
        """Deregister before an UpdateEndpoint; register again once it settled, whatever the outcome."""
        self.deregister(endpoint_name)
        try:
            yield
        finally:
            described = settled()
            if described is not None and described.get("EndpointStatus") == "InService":
                self.register(endpoint_name)
