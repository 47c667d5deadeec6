"""Autoscaling on the SageMaker backend: exact Application Auto Scaling requests on moto, the
deregister-update-register order SageMaker's guide requires, rollbacks, and teardown."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.scaling import Scaling
from ml.errors import DeployRolledBackError

ENDPOINT = "scikit-byo-endpoint"
TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
POLICY = {
    "TargetValue": 70.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
    "ScaleInCooldown": 300,
    "ScaleOutCooldown": 60,
}


def _approved(backend: SageMakerBackend) -> int:
    version = backend.register(job_name=backend.train().name).version
    backend.approve(version=version)
    return version


def _journal(clients: Any, sm: Any) -> list[str]:
    """Application Auto Scaling calls and UpdateEndpoint, in the order they were made."""
    events: list[str] = []
    clients.autoscaling.meta.events.register(
        "provide-client-params.application-auto-scaling.*", lambda params, model, **_: events.append(model.name)
    )
    real_update = sm.update_endpoint

    def update(**request: Any) -> Any:
        events.append("UpdateEndpoint")
        return real_update(**request)

    sm.update_endpoint = update
    return events


def _registered(clients: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    targets = clients.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = clients.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return targets, policies


def test_deploy_registers_the_variant_with_a_target_tracking_policy(backend: SageMakerBackend, clients: Any) -> None:
    _approved(backend)
    backend.deploy_endpoint(endpoint_name=ENDPOINT)
    [target], [policy] = _registered(clients)
    assert {k: target[k] for k in TARGET} == TARGET
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["PolicyName"] == f"{ENDPOINT}-invocations-per-instance"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == POLICY


def test_update_deregisters_first_and_registers_again_after(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    _approved(backend)
    backend.deploy_endpoint(endpoint_name=ENDPOINT)
    _approved(backend)
    events = _journal(clients, sm)
    backend.update_endpoint(endpoint_name=ENDPOINT)
    first = events.index("UpdateEndpoint")
    last = len(events) - 1 - events[::-1].index("UpdateEndpoint")  # a retry while the new config is not yet visible
    assert events[first - 2 : first] == ["DeleteScalingPolicy", "DeregisterScalableTarget"]
    assert set(events[first : last + 1]) == {"UpdateEndpoint"}
    assert events[last + 1 :] == ["RegisterScalableTarget", "PutScalingPolicy"]
    targets, policies = _registered(clients)
    assert len(targets) == 1 and len(policies) == 1


def test_a_rolled_back_update_keeps_the_endpoint_scaling(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    _approved(backend)
    backend.deploy_endpoint(endpoint_name=ENDPOINT)
    _approved(backend)
    sm.outcome = "rollback"
    with pytest.raises(DeployRolledBackError):
        backend.update_endpoint(endpoint_name=ENDPOINT)
    targets, policies = _registered(clients)
    assert len(targets) == 1 and len(policies) == 1


def test_rollback_and_teardown(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    _approved(backend)
    backend.deploy_endpoint(endpoint_name=ENDPOINT)
    _approved(backend)
    backend.update_endpoint(endpoint_name=ENDPOINT)
    events = _journal(clients, sm)
    backend.rollback(endpoint_name=ENDPOINT)
    assert events == ["DescribeScalableTargets", "DescribeScalingPolicies", "DeleteScalingPolicy", "DeregisterScalableTarget",
                      "UpdateEndpoint", "RegisterScalableTarget", "PutScalingPolicy"]  # fmt: skip
    deleted = backend.teardown()
    assert deleted[0] == f"scalable-target/{TARGET['ResourceId']}"
    assert _registered(clients) == ([], [])


def test_autoscaling_off_registers_nothing_but_still_deregisters(backend: SageMakerBackend, clients: Any) -> None:
    off = dataclasses.replace(backend.config, autoscaling_enabled=False)
    scaling = Scaling(autoscaling=clients.autoscaling, config=off)
    scaling.register(ENDPOINT)
    assert _registered(clients) == ([], [])
    backend.scaling.register(ENDPOINT)  # registered while it was on
    assert scaling.deregister(ENDPOINT) is True
    assert _registered(clients) == ([], []) and scaling.deregister(ENDPOINT) is False
