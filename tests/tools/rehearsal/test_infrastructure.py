"""`invoke rehearse --infrastructure`: `cdktf deploy` rehearsed with the real Terraform AWS provider.

The three synthesized stacks are applied in order against moto behind the fake-AWS front, planned
again (no changes), torn down with `invoke teardown --backend sagemaker`, and destroyed. The
provider (5.100.0, shipped with the machine image) is an oracle this project did not write: what
moto answers wrongly shows up as a failed apply or a non-empty plan, and is corrected in the front.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.rehearsal.infrastructure import PROVIDER_SERVICES, InfraResult, Step, against_fake, report, run_infrastructure
from tools.rehearsal.source import snapshot_commit
from tools.terraform.validation import missing_tools

ROOT = Path(__file__).resolve().parents[3]


def test_the_provider_talks_only_to_the_fake_endpoint_with_fake_keys(stacks: dict[str, Any]) -> None:
    for stack in stacks.values():
        (provider,) = against_fake(stack, endpoint_url="http://127.0.0.1:1")["provider"]["aws"]
        assert provider["endpoints"] == [dict.fromkeys(PROVIDER_SERVICES, "http://127.0.0.1:1")]
        assert (provider["access_key"], provider["secret_key"]) == ("testing", "testing")
        assert provider["skip_credentials_validation"] is True
        used = {t.removeprefix("aws_").split("_")[0] for t in stack["resource"]}
        # Every resource's service has an endpoint: none may reach AWS (cloudwatch_event -> events, etc.).
        aliases = {"cloudwatch": {"cloudwatch", "events", "logs"}, "sagemaker": {"sagemaker"}, "kms": {"kms"}}
        for service in used:
            assert aliases.get(service, {service}) & set(PROVIDER_SERVICES), service


def test_the_report_gives_the_wall_clock_not_the_sum_of_concurrent_steps() -> None:
    replans = [Step(name=f"re-plan {n}: no changes", seconds=30.0, ok=True) for n in "abc"]
    result = InfraResult(steps=[Step(name="apply a", seconds=70.0, ok=True), *replans], wall_seconds=101.0)
    text = report(result, load="1.0")
    assert "4/4 steps passed in 101.0 s wall clock" in text and "160.0" not in text
    failed = InfraResult(steps=[Step(name="apply a", seconds=1.0, ok=False, note="boom")], wall_seconds=1.0)
    assert not failed.passed and "FAIL" in report(failed, load="1.0") and "boom" in report(failed, load="1.0")


@pytest.mark.slow
@pytest.mark.timeout(1500)  # about 9 minutes at load 14 (docs/rehearsal.md); pyproject's 600 s is per ordinary test
@pytest.mark.skipif(missing_tools() is not None, reason=f"terraform with the real provider: {missing_tools()}")
def test_apply_replan_teardown_destroy_against_the_fakes(stacks: dict[str, Any], tmp_path: Path) -> None:
    lines: list[str] = []
    commit = snapshot_commit(ROOT)
    result = run_infrastructure(root=ROOT, stacks=stacks, workdir=tmp_path, region="us-east-1", commit=commit, on_line=lines.append)
    assert result.passed, report(result, load="-") + "\n" + "\n".join(lines[-20:])
    names = [s.name for s in result.steps]
    assert names[-1] == "destroy BuildPipelineStack" and "invoke teardown --backend sagemaker" in names
    assert all(s.note == "no changes" for s in result.steps if s.name.startswith("re-plan"))
