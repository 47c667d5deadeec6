"""Blue/green through the real nginx router under 16 concurrent connections: zero failed requests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_helpers import Load, Project, add_version, fixture_versions, url_port

from ml.backends.base import BlueGreenPolicy
from ml.backends.local import procs
from ml.errors import DeployRolledBackError, NotFoundError, UserInputError

pytestmark = pytest.mark.slow
# The endpoints here run 2 instances (cdktf.json): a canary moves one of them, 50%.
CANARY = BlueGreenPolicy(
    traffic="CANARY", step_percent=50, wait_seconds=1.0, baking_seconds=1.5, error_rate_percent=1.0, p99_latency_ms=60000
)


@pytest.fixture
def endpoint(trained: Project, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"bg-{request.node.name.replace('_', '-')[:40]}"
    trained.backend.deploy_endpoint(endpoint_name=name, version=1)
    yield name
    trained.backend.teardown(endpoint_name=name)


@pytest.fixture
def break_version(trained: Project) -> Iterator[Callable[[str], int]]:
    """Register a copy of version 2 that serves the broken test app; reject it afterwards so later
    tests that deploy "the newest approved version" never pick it."""
    made: list[int] = []

    def make(mode: str) -> int:
        version = add_version(trained.backend, like_job=fixture_versions(trained)[1].training_job)
        trained.programs.broken[version.version] = mode
        made.append(version.version)
        return version.version

    yield make
    for number in made:
        trained.backend.approve(version=number, status="Rejected", note="broken on purpose by a test")


def _variant_folders(trained: Project, name: str) -> list[Path]:
    record = trained.backend.store.get("endpoints", name)
    assert record is not None
    return [Path(v["folder"]) for v in record["fleet"]]


QUICK = BlueGreenPolicy(
    traffic="ALL_AT_ONCE", step_percent=100, wait_seconds=0, baking_seconds=0.2, error_rate_percent=1, p99_latency_ms=60000
)
CLIENTS = pytest.mark.parametrize("client", ["keep-alive", "close"])


def _assert_connections(load: Load, client: str) -> None:
    """Keep-alive clients keep their one connection through every reload; closing clients reconnect."""
    if client == "keep-alive":
        assert load.result.connects == load.connections, f"{load.result.connects} connections for {load.connections} clients"
    else:
        assert load.result.connects >= load.result.ok


@CLIENTS
def test_canary_update_under_load_moves_all_traffic_without_a_failed_request(
    trained: Project, endpoint: str, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(trained.backend, "_on_event", events.append)
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    blue_dirs = _variant_folders(trained, endpoint)
    with Load(url_port=url_port(before.url), client=client) as load:
        after = trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=CANARY)
        served_by_green = trained.backend.invoke(endpoint_name=endpoint, body=b"5.1,3.5,1.4,0.2\n").variant
    assert load.result.failures == []
    _assert_connections(load, client)
    assert load.result.ok > 50
    assert after.url == before.url, "the endpoint's URL must not change across versions"
    assert (after.status, after.version, after.previous_versions) == ("InService", 2, [1])
    assert served_by_green.startswith("v2-")
    # Both fleets took traffic during the canary, and blue is gone only now that baking is over.
    assert any(v.startswith("v1-") for v in load.result.variants)
    assert any(v.startswith("v2-") for v in load.result.variants)
    # Its progress was said as it happened, step by step, in the shared vocabulary (ml/backends/rollout.py).
    expected = [
        f"blue/green update of {endpoint} from version 1 to 2: CANARY (50%, 100%)",
        f"endpoint {endpoint}: Updating",
        "green (version 2): starting",
        "green (version 2) is healthy",
        "50% of traffic on version 2; waiting 1s",
        "alarm check: ok (",
        "100% of traffic on version 2; baking 1.5s",
        "alarm check: ok (",
        "retired blue (version 1); version 2 serves all traffic",
        f"endpoint {endpoint}: InService",
    ]
    assert len(events) == len(expected) and all(e.startswith(x) for e, x in zip(events, expected, strict=True)), events
    # Blue's processes are gone from the process table (supervisord stopped its whole group).
    assert blue_dirs and all(procs.processes_under(d) == [] for d in blue_dirs)


@CLIENTS
def test_green_that_fails_under_load_is_rolled_back_without_a_failed_request(
    trained: Project, endpoint: str, break_version: Callable[[str], int], monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    events: list[str] = []
    monkeypatch.setattr(trained.backend, "_on_event", events.append)
    broken = trained.backend.registry.get(break_version("5xx"))  # plain 500s, which nginx retries on blue
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    with (
        Load(url_port=url_port(before.url), client=client) as load,
        pytest.raises(DeployRolledBackError, match="error-rate alarm") as caught,
    ):
        trained.backend.update_endpoint(endpoint_name=endpoint, version=broken.version, policy=CANARY)
    assert load.result.failures == []
    _assert_connections(load, client)
    assert f"version {before.version} still serves" in str(caught.value)
    after = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert (after.status, after.version, after.url) == ("InService", 1, before.url)
    assert "error-rate alarm" in after.failure_reason
    assert len(_variant_folders(trained, endpoint)) == 1, "the broken green must be stopped"
    # The alarm fired during the canary step, before green ever had all the traffic ...
    assert any(f"50% of traffic on version {broken.version}" in e for e in events), events
    assert not any(e.startswith("100% of traffic") for e in events), events
    assert [e.split(":")[0] for e in events if e.startswith(("alarm check", "rolling back", "rolled back"))] == [
        "alarm check",
        "rolling back to version 1",
        "rolled back",
    ], events
    assert any(e.startswith("alarm check: BREACHED: error-rate alarm") for e in events), events
    statuses = [e for e in events if e.startswith(f"endpoint {endpoint}: ")]
    assert statuses == [f"endpoint {endpoint}: {s}" for s in ("Updating", "RollingBack", "InService")], events
    # ... and green's processes are gone from the process table, not only from the record.
    greens = list(trained.backend.layout.endpoint_dir(endpoint).glob(f"variants/v{broken.version}-*"))
    assert greens and all(procs.processes_under(d) == [] for d in greens)
    assert trained.backend.invoke(endpoint_name=endpoint, body=b"5.1,3.5,1.4,0.2\n").status_code == 200


def test_green_whose_ping_fails_never_receives_traffic(
    trained: Project, endpoint: str, monkeypatch: pytest.MonkeyPatch, break_version: Callable[[str], int]
) -> None:
    monkeypatch.setattr("ml.backends.local.fleet.HEALTH_TIMEOUT_S", 2.0)
    broken = trained.backend.registry.get(break_version("ping"))
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    with Load(url_port=url_port(before.url)) as load, pytest.raises(DeployRolledBackError, match="before any traffic moved"):
        trained.backend.update_endpoint(endpoint_name=endpoint, version=broken.version, policy=CANARY)
    assert load.result.failures == []
    assert set(load.result.variants) == {v["id"] for v in trained.backend.store.get("endpoints", endpoint)["fleet"]}  # type: ignore[index]
    assert trained.backend.describe_endpoint(endpoint_name=endpoint).version == 1


@CLIENTS
def test_rollback_returns_to_the_previous_version_under_load(trained: Project, endpoint: str, client: str) -> None:
    trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=QUICK)
    url = trained.backend.describe_endpoint(endpoint_name=endpoint).url
    with Load(url_port=url_port(url), client=client) as load:
        back = trained.backend.rollback(endpoint_name=endpoint)
    assert load.result.failures == []
    _assert_connections(load, client)
    # As on SageMaker: what was served before, the current version left out; a second rollback goes to 2.
    assert (back.version, back.previous_versions, back.url) == (1, [2], url)


def test_rollback_knows_every_version_the_endpoint_served(trained: Project, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(trained.backend, "_on_event", events.append)
    # The contract (ml/backends/base.py rollback_target): no earlier version served and none older approved.
    with pytest.raises(NotFoundError, match=re.escape("has served only version 1 and no older version is approved: there is no earlier")):
        trained.backend.rollback(endpoint_name=endpoint)
    trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=QUICK)
    back = trained.backend.rollback(endpoint_name=endpoint)
    assert (back.version, back.previous_versions) == (1, [2])
    # Version 2 served before the rollback: the next rollback goes back to it, and says what was served.
    forward = trained.backend.rollback(endpoint_name=endpoint)
    assert (forward.version, forward.previous_versions) == (2, [1])
    said = [e for e in events if "has served versions" in e]
    assert said == [
        f"endpoint {endpoint!r} has served versions 1, 2 (oldest first); rolling back to 1",
        f"endpoint {endpoint!r} has served versions 1, 2, 1 (oldest first); rolling back to 2",
    ]
    history = trained.backend.describe_endpoint(endpoint_name=endpoint).history
    assert [line.split(" ", 1)[1].split(":")[0] for line in history] == ["created", "updated", "rolled back", "rolled back"]
    assert all(line[:4].isdigit() and "T" in line.split(" ")[0] for line in history), history  # each with its time


def test_a_step_smaller_than_one_instance_is_refused_before_anything_starts(
    trained: Project, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(trained.backend, "_on_event", events.append)
    before = trained.backend.store.get("endpoints", endpoint)
    variants = trained.backend.layout.endpoint_dir(endpoint) / "variants"
    folders = sorted(variants.iterdir())
    quarter = BlueGreenPolicy(
        traffic="CANARY", step_percent=25, wait_seconds=1, baking_seconds=1, error_rate_percent=1, p99_latency_ms=60000
    )
    with pytest.raises(UserInputError, match=r"runs 2 instance\(s\).*bluegreen_step_percent is 25.*50-50.*whole instance"):
        trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=quarter)
    assert events == [], "the update started (it said so) before the step was checked"
    assert trained.backend.store.get("endpoints", endpoint) == before
    assert sorted(variants.iterdir()) == folders, "a green variant was prepared"
