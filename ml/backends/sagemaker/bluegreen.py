"""UpdateEndpoint with deployment guardrails: blue/green traffic shifting and alarm rollback.

The new endpoint config keeps the variant name; SageMaker's guardrails require that (a new
variant name would be an A/B split, not a blue/green update). After UpdateEndpoint we wait and
then check which config the endpoint actually runs, because an auto-rollback ends InService too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml.aws_limits import MAX_SHIFT_PERCENT
from ml.backends.base import BlueGreenPolicy
from ml.backends.rollout import Rollout
from ml.backends.sagemaker.hosting import Hosting
from ml.backends.sagemaker.naming import version_of_config
from ml.backends.sagemaker.waiting import Deadline
from ml.errors import DeployRolledBackError, JobFailedError, UserInputError
from ml.names import BLUEGREEN_EXECUTION_RANGE, BLUEGREEN_PROVISION_SECONDS

# SageMaker's limits for MaximumExecutionTimeoutInSeconds, and the time to launch the green fleet:
# ml.config owns them because the deploy CodeBuild project's timeout is sized from them too.
MIN_EXECUTION_SECONDS, MAX_EXECUTION_SECONDS = BLUEGREEN_EXECUTION_RANGE
PROVISION_SECONDS = BLUEGREEN_PROVISION_SECONDS


def traffic_routing(policy: BlueGreenPolicy) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": policy.traffic, "WaitIntervalInSeconds": int(policy.wait_seconds)}
    if policy.traffic in ("CANARY", "LINEAR"):
        if policy.step_percent > MAX_SHIFT_PERCENT:
            raise UserInputError(
                f"bluegreen_step_percent is {policy.step_percent}; SageMaker {policy.traffic} steps move at most "
                f"{MAX_SHIFT_PERCENT}% of capacity; lower it or use ALL_AT_ONCE"
            )
        size = {"Type": "CAPACITY_PERCENT", "Value": policy.step_percent}
        routing["CanarySize" if policy.traffic == "CANARY" else "LinearStepSize"] = size
    return routing


def execution_timeout(policy: BlueGreenPolicy) -> int:
    """Provisioning, every traffic shift's wait and the baking period, within SageMaker's range."""
    shifts = len(policy.steps())
    needed = PROVISION_SECONDS + int(policy.wait_seconds) * shifts + int(policy.baking_seconds)
    return max(MIN_EXECUTION_SECONDS, min(MAX_EXECUTION_SECONDS, needed))


def deployment_config(policy: BlueGreenPolicy, alarm_names: Sequence[str]) -> dict[str, Any]:
    """The exact DeploymentConfig for UpdateEndpoint."""
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": traffic_routing(policy),
            "TerminationWaitInSeconds": int(policy.baking_seconds),
            "MaximumExecutionTimeoutInSeconds": execution_timeout(policy),
        }
    }
    if alarm_names:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarm_names]}
    return config


def run_update(
    hosting: Hosting,
    *,
    endpoint_name: str,
    config_name: str,
    policy: BlueGreenPolicy,
    alarm_names: Sequence[str],
    sagemaker: Any,
    rollout: Rollout,
) -> dict[str, Any]:
    """UpdateEndpoint, wait for it to settle (saying what SageMaker does as it polls), and fail
    loudly unless ``config_name`` now serves."""
    rollout.plan(policy)
    deployment = deployment_config(policy, alarm_names)
    timeout = int(deployment["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"])
    # SageMaker gives up at MaximumExecutionTimeout and then rolls back; allow time for that too.
    whole = Deadline(seconds=timeout + PROVISION_SECONDS, poll_seconds=30.0)
    started = hosting.clock.monotonic()
    hosting.with_visible_config(
        lambda: sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name, DeploymentConfig=deployment),
        config_name=config_name,
        deadline=whole,
        what=f"updating endpoint {endpoint_name} to {config_name}",
    )
    deadline = whole.remaining(started=started, clock=hosting.clock)
    final = hosting.wait_settled(
        endpoint_name, deadline=deadline, what=f"blue/green update of endpoint {endpoint_name}", on_described=rollout.described
    )
    try:
        done = verify_update(final, endpoint_name=endpoint_name, intended=config_name, alarm_names=alarm_names)
    except DeployRolledBackError as err:
        rollout.rolling_back(str(final.get("FailureReason") or err))
        rollout.rolled_back()
        raise
    rollout.blue_retired()
    return done


def verify_update(final: dict[str, Any], *, endpoint_name: str, intended: str, alarm_names: Sequence[str]) -> dict[str, Any]:
    status, serving = final["EndpointStatus"], str(final.get("EndpointConfigName", ""))
    reason = final.get("FailureReason") or "no reason given"
    if status == "InService" and serving == intended:
        return final
    if status == "InService":
        alarms = ", ".join(alarm_names) or "none configured"
        raise DeployRolledBackError(
            f"blue/green update of {endpoint_name} to {intended} was rolled back; it still serves {serving} "
            f"(model version {version_of_config(serving)}). Reason: {reason}. Check the alarms ({alarms}) and the "
            "new version's CloudWatch logs before retrying"
        )
    raise JobFailedError(
        f"blue/green update of {endpoint_name} to {intended} ended {status} (serving {serving or 'nothing'}): {reason}; "
        "see the SageMaker console, then re-run the update or `invoke rollback`"
    )
