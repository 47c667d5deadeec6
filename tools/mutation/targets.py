"""The decision modules mutation testing covers, each with the fast tests that must catch a one-character bug in it.

Only in-process tests are listed: mutmut swaps mutants in by a trampoline inside the test
process, so a test that runs the code in a subprocess (a real ``invoke``) cannot kill one, and
slow tests would make a run take hours.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_TESTS = ("tests/ml/monitor/test_monitor_window.py", "tests/ml/monitor/test_monitor_errors.py")
STATS_TESTS = (
    "tests/ml/monitor/test_monitor_drift.py",
    "tests/ml/monitor/test_monitor_verdict.py",
    "tests/ml/monitor/test_monitor_stats.py",
)
VERDICT_TESTS = (*STATS_TESTS, "tests/ml/monitor/test_monitor_report.py")
ATTRIBUTION_TESTS = ("tests/ml/monitor/test_monitor_history.py", "tests/ml/monitor/test_monitor_served.py")
SCALING_TESTS = ("tests/ml/backends/local/test_local_scaling.py", "tests/ml/backends/local/test_local_scaling_policy.py")
HEALTH_TESTS = ("tests/ml/backends/local/test_local_health.py", "tests/ml/backends/local/test_local_health_decisions.py")
METADATA_TESTS = ("tests/ml/backends/sagemaker/test_sagemaker_metadata.py",)
# test_requests.py also starts subprocesses with the strict hook: those cannot kill a mutant, so they are left out.
REQUESTS_TESTS = (
    "tests/tools/awscheck/test_request_rules.py",
    "tests/tools/awscheck/test_requests.py",
    "-k",
    "not subprocess and not strict_hook",
)
EVALUATE_TESTS = ("tests/tools/awscheck/test_permissions.py", "tests/tools/awscheck/test_evaluate.py")
CONFIG_TESTS = (
    "tests/ml/test_aws_limits.py",
    "tests/ml/test_config.py",
    "tests/ml/test_config_messages.py",
    "tests/ml/test_config_timeouts.py",
    "tests/ml/test_config_spot_boundary.py",
)


@dataclass(frozen=True, kw_only=True)
class Target:
    name: str  # what the module decides, as docs/testing.md lists it
    path: str  # the one file mutated
    tests: tuple[str, ...]  # pytest arguments selecting its fast tests

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "-")


TARGETS = (
    Target(name="autoscaling policy", path="ml/backends/local/autoscale/policy.py", tests=SCALING_TESTS),
    Target(name="health-check counting", path="ml/backends/local/supervise/health.py", tests=HEALTH_TESTS),
    Target(name="monitor window", path="ml/monitor/window.py", tests=WINDOW_TESTS),
    Target(name="monitor statistics", path="ml/monitor/stats.py", tests=STATS_TESTS),
    Target(name="monitor drift", path="ml/monitor/drift.py", tests=STATS_TESTS),
    Target(name="monitor verdict", path="ml/monitor/verdict.py", tests=VERDICT_TESTS),
    Target(name="monitor attribution", path="ml/monitor/history.py", tests=ATTRIBUTION_TESTS),
    Target(name="AWS limits", path="ml/aws_limits.py", tests=CONFIG_TESTS),
    Target(name="config validation", path="ml/config.py", tests=CONFIG_TESTS),
    Target(name="request checker", path="tools/awscheck/requests.py", tests=REQUESTS_TESTS),
    Target(name="permission evaluator", path="tools/awscheck/evaluate.py", tests=EVALUATE_TESTS),
    Target(name="metadata escaping", path="ml/backends/sagemaker/metadata.py", tests=METADATA_TESTS),
    Target(name="rollout vocabulary", path="ml/backends/rollout.py", tests=("tests/ml/backends/test_rollout.py",)),
)


def chosen(names: str) -> tuple[Target, ...]:
    """The targets a comma-separated list names (by name, slug or path); all when empty."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        return TARGETS
    found = [t for t in TARGETS if {t.name, t.slug, t.path} & set(wanted)]
    unknown = [n for n in wanted if not any(n in (t.name, t.slug, t.path) for t in TARGETS)]
    if unknown:
        raise ValueError(f"unknown mutation target(s) {', '.join(unknown)}; choose from {', '.join(t.slug for t in TARGETS)}")
    return tuple(found)
