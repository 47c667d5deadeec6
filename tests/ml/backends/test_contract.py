"""The Backend contract (``ml/backends/base.py``), enforced by the same tests on both backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from contract_world import OVERRIDES, REPO, Contract, sagemaker_world

from ml.config import load_config
from ml.errors import NotFoundError, UserInputError


def _register_both(contract: Contract) -> tuple[int, int]:
    first, second = (contract.backend.register(job_name=job).version for job in contract.jobs)
    return first, second


def _approve_both(contract: Contract) -> tuple[int, int]:
    first, second = _register_both(contract)
    for number in (first, second):
        contract.backend.approve(version=number, note="contract")
    return first, second


def test_list_versions_is_newest_first(contract: Contract) -> None:
    first, second = _register_both(contract)
    assert [v.version for v in contract.backend.list_versions()] == [second, first]
    assert second > first


def test_registering_a_job_twice_returns_its_version(contract: Contract) -> None:
    once = contract.backend.register(job_name=contract.jobs[0])
    again = contract.backend.register(job_name=contract.jobs[0], approval_status="Approved")
    assert (again.version, again.approval_status) == (once.version, once.approval_status)
    assert [v.version for v in contract.backend.list_versions()] == [once.version]


def test_approving_twice_changes_nothing_the_second_time(contract: Contract) -> None:
    version = contract.backend.register(job_name=contract.jobs[0]).version
    first = contract.backend.approve(version=version, note="good")
    again = contract.backend.approve(version=version, note="still good")
    assert again == first  # same record: no second audit entry, the first note kept
    assert [v for v in contract.backend.list_versions() if v.version == version] == [first]


def test_approve_takes_approved_or_rejected_never_pending(contract: Contract) -> None:
    version = contract.backend.register(job_name=contract.jobs[0]).version
    with pytest.raises(UserInputError, match="Approved or Rejected"):
        contract.backend.approve(version=version, status="PendingManualApproval")
    assert contract.backend.approve(version=version, status="Rejected", note="worse").approval_status == "Rejected"
    assert contract.backend.approve(version=version, note="better after all").approval_status == "Approved"


@pytest.mark.parametrize("note", ["first line\nsecond line", "x" * 1025])
def test_an_approval_note_sagemaker_would_refuse_is_refused_before_anything_changes(contract: Contract, note: str) -> None:
    version = contract.backend.register(job_name=contract.jobs[0]).version
    with pytest.raises(UserInputError, match="approval note"):
        contract.backend.approve(version=version, status="Approved", note=note)
    assert contract.backend.list_versions()[0].approval_status == "PendingManualApproval"


def test_training_merges_overrides_into_the_configured_hyperparameters(contract: Contract) -> None:
    configured = load_config(REPO / "cdktf.json").hyperparameters
    assert set(configured) - set(OVERRIDES), "the check needs a configured name the override leaves alone"
    version = contract.backend.register(job_name=contract.jobs[0])
    assert version.lineage.hyperparameters == {**configured, **OVERRIDES}


def test_lineage_is_the_full_commit_and_a_separate_dirty_flag(contract: Contract) -> None:
    version = contract.backend.register(job_name=contract.jobs[0])
    for lineage in (version.lineage, contract.trained[0].lineage):  # the version's and the job's
        assert re.fullmatch(r"[0-9a-f]{40}", lineage.git_commit), lineage
        assert lineage.git_dirty is True  # both scratch projects are built from a dirty tree


def test_deploy_on_an_existing_endpoint_is_a_blue_green_update(contract: Contract) -> None:
    first, second = _approve_both(contract)
    name = contract.configured_endpoint
    assert contract.backend.deploy_endpoint(endpoint_name=name, version=first).version == first
    moved = contract.backend.deploy_endpoint(endpoint_name=name)  # the newest approved: second
    assert (moved.status, moved.version) == ("InService", second)
    assert contract.backend.describe_endpoint(endpoint_name=name).previous_versions == [first]


def _plans(events: list[str]) -> list[str]:
    return [line for line in events if line.startswith("blue/green update of")]


def test_rollback_puts_the_previous_version_back_all_at_once_without_alarms(contract: Contract) -> None:
    first, second = _approve_both(contract)
    name = contract.configured_endpoint
    contract.backend.deploy_endpoint(endpoint_name=name, version=first)
    contract.backend.update_endpoint(endpoint_name=name, version=second)
    contract.events.clear()
    back = contract.backend.rollback(endpoint_name=name)
    assert (back.status, back.version) == ("InService", first)
    assert contract.backend.describe_endpoint(endpoint_name=name).version == first
    [plan] = _plans(contract.events)
    assert f"from version {second} to {first}: ALL_AT_ONCE (100%)" in plan and "no alarm auto-rollback" in plan, plan
    assert not any(line.startswith("alarm check") for line in contract.events), contract.events


def test_rollback_without_history_goes_to_the_newest_older_approved_version(contract: Contract) -> None:
    first, second = _approve_both(contract)
    name = contract.configured_endpoint
    contract.backend.deploy_endpoint(endpoint_name=name, version=second)  # first never served here
    assert contract.backend.rollback(endpoint_name=name).version == first


@pytest.mark.parametrize("verb", ["update", "rollback"])
def test_moving_to_the_served_version_is_a_no_op_that_says_so(contract: Contract, verb: str) -> None:
    first = contract.backend.register(job_name=contract.jobs[0], approval_status="Approved").version
    name = contract.configured_endpoint
    before = contract.backend.deploy_endpoint(endpoint_name=name)
    contract.events.clear()
    if verb == "update":
        after, said = contract.backend.update_endpoint(endpoint_name=name, version=first), "nothing to update"
    else:
        after, said = contract.backend.rollback(endpoint_name=name, to_version=first), "nothing to roll back"
    assert (after.status, after.version, after.config_name) == ("InService", first, before.config_name)
    assert any(f"already serves model version {first}; {said}" in line for line in contract.events), contract.events
    assert _plans(contract.events) == []  # nothing moved
    again = contract.backend.deploy_endpoint(endpoint_name=name)
    assert (again.version, again.config_name) == (first, before.config_name)
    if verb == "rollback":  # and with no history and nothing older approved, there is nowhere to go
        with pytest.raises(NotFoundError, match="no earlier version to roll back to; pass --to VERSION"):
            contract.backend.rollback(endpoint_name=name)


def test_teardown_defaults_to_the_configured_endpoint_and_leaves_others(contract: Contract) -> None:
    contract.backend.register(job_name=contract.jobs[0], approval_status="Approved")
    configured, other = contract.configured_endpoint, "contract-other"
    contract.backend.deploy_endpoint(endpoint_name=configured)
    contract.backend.deploy_endpoint(endpoint_name=other)
    contract.backend.teardown()
    with pytest.raises(NotFoundError):
        contract.backend.describe_endpoint(endpoint_name=configured)
    assert contract.backend.describe_endpoint(endpoint_name=other).status == "InService"
    contract.backend.teardown(endpoint_name=other)
    with pytest.raises(NotFoundError):
        contract.backend.describe_endpoint(endpoint_name=other)
    contract.backend.teardown(endpoint_name=other)  # tearing down what is gone is not an error


def test_update_or_rollback_of_a_missing_endpoint_says_to_create_it(contract: Contract) -> None:
    contract.backend.register(job_name=contract.jobs[0], approval_status="Approved")
    with pytest.raises(NotFoundError, match="invoke deploy --mode endpoint"):
        contract.backend.update_endpoint(endpoint_name="contract-ghost")
    with pytest.raises(NotFoundError, match="invoke deploy --mode endpoint"):
        contract.backend.rollback(endpoint_name="contract-ghost")


def test_sagemaker_given_a_local_data_path_says_to_use_s3(tmp_path: Path) -> None:
    # `invoke train --backend sagemaker --data data/iris.csv` printed a ValueError traceback.
    world = sagemaker_world(tmp_path)
    contract = next(world)
    try:
        with pytest.raises(UserInputError, match=r"'data/iris.csv' is not an s3://BUCKET/KEY URI"):
            contract.backend.train(data="data/iris.csv")
    finally:
        world.close()
