"""The progress of a blue/green update, printed as it happens, in the same words on both backends.

Locally the backend drives every step itself and says so at each one; on SageMaker the service
drives them and the backend reports what DescribeEndpoint shows as it polls (the endpoint's status,
and each fleet's VariantStatus and weights). Either way a user reads one vocabulary: the plan,
green provisioned and healthy, each traffic step with its percentage, baking, each alarm check,
a rollback with its reason, blue retired. With a journal, each line is also appended to it
(:mod:`ml.backends.rollout_journal`), where the web console reads it while the update runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml.backends.base import BlueGreenPolicy, LogSink
from ml.backends.rollout_journal import RolloutJournal


class Rollout:
    def __init__(
        self, *, sink: LogSink | None, endpoint: str, version: int, blue_version: int, journal: RolloutJournal | None = None
    ) -> None:
        self._sink = sink or (lambda _line: None)
        self._journal = journal
        if journal is not None:
            journal.start()
        self.endpoint = endpoint
        self.version = version
        self.blue_version = blue_version
        self._seen: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._status = ""
        self._alarms = True  # whether the plan watches alarms (a rollback's does not)

    def _say(self, line: str, kind: str) -> None:
        self._sink(line)
        if self._journal is not None:
            self._journal.append(kind=kind, line=line)

    def plan(self, policy: BlueGreenPolicy) -> None:
        steps = ", ".join(f"{p}%" for p in policy.steps())
        self._alarms = policy.auto_rollback
        alarms = (
            f"auto-rollback on more than {policy.error_rate_percent:g}% errors or p99 over {policy.p99_latency_ms:g} ms"
            if policy.auto_rollback
            else "no alarm auto-rollback (a rollback: the alarms may be firing because of the version it replaces)"
        )
        self._say(
            f"blue/green update of {self.endpoint} from version {self.blue_version} to {self.version}: {policy.traffic} "
            f"({steps}), waiting {policy.wait_seconds:g}s after each step, baking {policy.baking_seconds:g}s; {alarms}",
            "plan",
        )

    def status(self, status: str) -> None:
        """The endpoint's status, said once per change."""
        if status != self._status:
            self._status = status
            self._say(f"endpoint {self.endpoint}: {status}", "status")

    def green_starting(self, detail: str) -> None:
        self._say(f"green (version {self.version}): starting {detail}", "green")

    def green_healthy(self, detail: str) -> None:
        self._say(f"green (version {self.version}) is healthy {detail}", "green")

    def traffic(self, percent: int, *, dwell_s: float) -> None:
        doing = "baking" if percent >= 100 else "waiting"
        self._say(f"{percent}% of traffic on version {self.version}; {doing} {dwell_s:g}s", "traffic")

    def alarm_check(self, *, breach: str | None, measured: str) -> None:
        if not self._alarms and not breach:
            return  # nothing was watched: "ok" would claim a check that did not happen
        if breach:
            self._say(f"alarm check: BREACHED: {breach}", "alarm")
        else:
            self._say(f"alarm check: ok ({measured})", "alarm")

    def rolling_back(self, why: str) -> None:
        self._say(f"rolling back to version {self.blue_version}: {why}", "rollback")

    def rolled_back(self) -> None:
        self._say(f"rolled back: version {self.blue_version} serves all traffic; green (version {self.version}) stopped", "rollback")

    def blue_retired(self) -> None:
        self._say(f"retired blue (version {self.blue_version}); version {self.version} serves all traffic", "done")

    def described(self, described: Mapping[str, Any]) -> None:
        """SageMaker: what a DescribeEndpoint answer shows of the update, each change said once."""
        self.status(str(described.get("EndpointStatus", "")))
        pending = described.get("PendingDeploymentSummary") or {}
        self._fleet("blue", described.get("ProductionVariants") or [])
        self._fleet("green", pending.get("ProductionVariants") or [])

    def _fleet(self, fleet: str, variants: Sequence[Mapping[str, Any]]) -> None:
        for variant in variants:
            statuses = tuple((s.get("Status", ""), s.get("StatusMessage", "")) for s in variant.get("VariantStatus") or [])
            weights = (variant.get("CurrentWeight"), variant.get("DesiredWeight"))
            counts = (variant.get("CurrentInstanceCount"), variant.get("DesiredInstanceCount"))
            key = (fleet, str(variant.get("VariantName", "")))
            if self._seen.get(key) == (statuses, weights, counts):
                continue
            self._seen[key] = (statuses, weights, counts)
            doing = "; ".join(f"{status}{f' ({message})' if message else ''}" for status, message in statuses) or "serving"
            self._say(
                f"{fleet} fleet ({'version ' + str(self.version) if fleet == 'green' else 'version ' + str(self.blue_version)}): "
                f"{doing}; weight {_num(weights[0])} -> {_num(weights[1])}, instances {_num(counts[0])} -> {_num(counts[1])}",
                "fleet",
            )


def _num(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
