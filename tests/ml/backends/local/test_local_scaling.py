"""Local autoscaling: target tracking decided like Application Auto Scaling, applied with real processes."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import pytest
from local_helpers import Load, Project, make_backend, recorded_ports, url_port

from ml.backends.base import BlueGreenPolicy
from ml.backends.local import procs
from ml.backends.local.autoscale.policy import Cooldowns, ScalingPolicy, after_activity, clamp, decide
from ml.backends.local.backend import LocalBackend
from ml.backends.local.supervise.control import Supervisor
from ml.backends.local.supervise.ports import free
from ml.errors import UserInputError

POLICY = ScalingPolicy(min_instances=1, max_instances=4, target_per_minute=600, window_s=10, scale_out_cooldown_s=5, scale_in_cooldown_s=20)
LONG_AGO = -1000.0


def test_load_above_target_scales_out_to_the_tracked_count() -> None:
    # 2 instances, 3,000 invocations in 10 s = 9,000/instance/min = 15 × target: ceil(2 × 15) = 30, clamped to 4.
    heavy = decide(POLICY, current=2, invocations=3000, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO)
    assert (heavy.desired, heavy.apply) == (4, 4)
    assert heavy.per_instance_per_minute == 9000
    # 150 invocations in 10 s on 1 instance = 900/min against 600: ceil(1.5) = 2.
    light = decide(POLICY, current=1, invocations=150, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO)
    assert (light.desired, light.apply) == (2, 2)


def test_at_target_nothing_changes() -> None:
    steady = decide(POLICY, current=2, invocations=200, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO)
    assert (steady.desired, steady.apply) == (2, 2) and "steady" in steady.reason


def test_cooldowns_hold_the_count_but_desired_says_where_it_goes() -> None:
    held = decide(POLICY, current=1, invocations=3000, now=10, last_scale_out=7, last_activity=7)
    assert (held.desired, held.apply) == (4, 1) and "scale-out cooldown" in held.reason
    # Scale-in waits its (longer) cooldown after any activity, a recent scale-out included.
    quiet = decide(POLICY, current=4, invocations=0, now=10, last_scale_out=0, last_activity=0)
    assert (quiet.desired, quiet.apply) == (1, 4) and "scale-in cooldown" in quiet.reason
    later = decide(POLICY, current=4, invocations=0, now=25, last_scale_out=0, last_activity=0)
    assert (later.desired, later.apply) == (1, 1) and "scaling in" in later.reason


def test_scale_in_cooldown_counts_from_the_last_activity_of_either_kind() -> None:
    # The last scale-out was long ago, but a scale-in happened 5 s ago: the next scale-in waits 20 s from it.
    recent_in = decide(POLICY, current=3, invocations=0, now=30, last_scale_out=LONG_AGO, last_activity=25)
    assert (recent_in.desired, recent_in.apply) == (1, 3) and "scale-in cooldown" in recent_in.reason
    assert decide(POLICY, current=3, invocations=0, now=46, last_scale_out=LONG_AGO, last_activity=25).apply == 1
    # What the autoscaler remembers after each kind of activity.
    start = Cooldowns(last_scale_out=LONG_AGO, last_activity=LONG_AGO)
    scaled_in = after_activity(start, now=25, scaled_out=False)
    assert (scaled_in.last_scale_out, scaled_in.last_activity) == (LONG_AGO, 25)
    scaled_out = after_activity(scaled_in, now=40, scaled_out=True)
    assert (scaled_out.last_scale_out, scaled_out.last_activity) == (40, 40)


def test_light_traffic_never_takes_the_fleet_below_its_minimum() -> None:
    floor = ScalingPolicy(
        min_instances=2, max_instances=4, target_per_minute=600, window_s=10, scale_out_cooldown_s=5, scale_in_cooldown_s=20
    )
    for current in (2, 3, 4):
        light = decide(floor, current=current, invocations=1, now=0, last_scale_out=LONG_AGO, last_activity=LONG_AGO)
        assert (light.desired, light.apply) == (2, 2), (current, light)
    assert clamp(floor, 1) == 2 and clamp(floor, 9) == 4 and clamp(floor, 3) == 3


def test_a_policy_with_min_above_max_is_refused() -> None:
    with pytest.raises(UserInputError, match="min instances <= max instances"):
        ScalingPolicy(min_instances=3, max_instances=2, target_per_minute=70, window_s=5, scale_out_cooldown_s=0, scale_in_cooldown_s=0)


@pytest.fixture
def scaled(trained: Project, request: pytest.FixtureRequest) -> Iterator[tuple[LocalBackend, str]]:
    """An endpoint whose autoscaler reacts in seconds: 1 to 3 instances, a target any test load exceeds."""
    backend = make_backend(
        trained.root,
        trained.programs,
        autoscaling_enabled=True,
        hosting_instance_count=1,
        bluegreen_traffic="ALL_AT_ONCE",  # SageMaker's CANARY needs 2 instances; the tests pass their own policy
        autoscaling_min_instances=1,
        autoscaling_max_instances=3,
        autoscaling_target_invocations=600,
        local_autoscaling_window_seconds=2,
        local_autoscaling_cooldown_seconds=1,
    )
    name = f"as-{request.node.name.replace('_', '-')[:40]}"
    backend.deploy_endpoint(endpoint_name=name, version=1)
    yield backend, name
    ports = recorded_ports(backend.store.get("endpoints", name))
    backend.teardown(endpoint_name=name)
    assert procs.processes_under(backend.layout.endpoint_dir(name)) == []
    assert all(free(p) for p in ports)


def _instances(backend: LocalBackend, name: str) -> tuple[int, int]:
    (variant,) = [v for v in backend.describe_endpoint(endpoint_name=name).variants if v.weight > 0]
    return variant.current_instance_count, variant.desired_instance_count


def _wait(backend: LocalBackend, name: str, current: int, *, timeout: float = 90) -> list[tuple[int, int]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _instances(backend, name)
        if not seen or seen[-1] != now:
            seen.append(now)
        if now[0] == current and now[1] == current:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"never reached {current} instances; saw (current, desired): {seen}")


def _routed(backend: LocalBackend, name: str) -> set[int]:
    """The model-server ports the router's live config sends to."""
    conf = (backend.layout.router_dir(name) / "conf" / "nginx.conf").read_text(encoding="utf-8")
    return {int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+) weight=", conf)}


def _recorded(backend: LocalBackend, name: str) -> set[int]:
    record = backend.store.get("endpoints", name)
    return recorded_ports(record) - {url_port(str((record or {})["url"]))}


def _wait_line(backend: LocalBackend, name: str, *parts: str) -> None:
    """describe's health lines name the scaling activity (the autoscaler records it once done)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = backend.describe_endpoint(endpoint_name=name).health
        if any(all(p in line for p in parts) for line in health):
            return
        time.sleep(0.2)
    raise AssertionError(f"describe never showed {parts}: {health}")


def _router_pids(backend: LocalBackend, name: str) -> dict[str, int]:
    states = Supervisor(folder=backend.layout.supervisor_dir(name)).states()
    return {p: states[p].pid for p in ("router-front", "router-back")}


@pytest.mark.slow
def test_a_load_ramp_grows_the_fleet_to_max_and_it_shrinks_back_without_a_failed_request(scaled: tuple[LocalBackend, str]) -> None:
    backend, name = scaled
    assert _instances(backend, name) == (1, 1)
    routers = _router_pids(backend, name)
    url = backend.describe_endpoint(endpoint_name=name).url
    # A paced client (4 requests/s, under the 10/s target) runs throughout: it sees the scale-in too.
    with Load(url_port=url_port(url), connections=1, pause_s=0.25) as paced:
        with Load(url_port=url_port(url), connections=6) as heavy:
            grew = _wait(backend, name, 3)
        assert heavy.result.failures == []
        assert grew[0][0] == 1 and grew[-1] == (3, 3), grew
        assert [c for c, _ in grew] == sorted(c for c, _ in grew), f"the fleet only grew under load: {grew}"
        _wait_line(backend, name, "scaling activity:", "out from 1 to")
        assert len(_routed(backend, name)) == 3, "the router sends to every instance"
        shrank = _wait(backend, name, 1)
        assert shrank[-1] == (1, 1)
        _wait_line(backend, name, "scaling activity:", "in from")
        assert _routed(backend, name) == _recorded(backend, name), "the router no longer sends to a removed instance"
    assert paced.result.failures == [] and paced.result.ok > 10
    assert _router_pids(backend, name) == routers, "a scaling step restarted the router"
    assert backend.invoke(endpoint_name=name, body=b"5.1,3.5,1.4,0.2\n").status_code == 200


@pytest.mark.slow
def test_after_a_teardown_a_new_endpoint_of_the_same_name_tells_only_its_own_story(scaled: tuple[LocalBackend, str]) -> None:
    backend, name = scaled
    url = backend.describe_endpoint(endpoint_name=name).url
    with Load(url_port=url_port(url), connections=6):
        _wait_line(backend, name, "scaling activity:", "out from 1 to")
    old = {v.name.split("/")[1] for v in backend.describe_endpoint(endpoint_name=name).variants}
    (first,) = old
    killed = Supervisor(folder=backend.layout.supervisor_dir(name)).states()[first].pid
    os.kill(killed, signal.SIGKILL)
    _wait_line(backend, name, f"restart: {first}", "exited unexpectedly")
    born = backend.describe_endpoint(endpoint_name=name).created_at
    backend.teardown(endpoint_name=name)
    backend.deploy_endpoint(endpoint_name=name, version=1)
    seen = backend.describe_endpoint(endpoint_name=name)
    stale = [line for line in seen.health if "scaling activity:" in line or line.startswith("restart:") or any(v in line for v in old)]
    assert stale == [], f"describe shows the old endpoint's story: {stale}"
    assert [line.split(" ", 1)[1].split(":")[0] for line in seen.history] == ["created"]
    assert seen.created_at > born and seen.history[0] >= seen.created_at, seen.history  # the new life's, with its time


@pytest.mark.slow
def test_blue_green_and_rollback_while_scaled_out_lose_nothing(scaled: tuple[LocalBackend, str]) -> None:
    backend, name = scaled
    url = backend.describe_endpoint(endpoint_name=name).url
    policy = BlueGreenPolicy(  # scaled out to 3: a canary of one whole instance is 34%
        traffic="CANARY", step_percent=34, wait_seconds=1.0, baking_seconds=1.0, error_rate_percent=1.0, p99_latency_ms=60000
    )
    with Load(url_port=url_port(url), connections=8) as load:
        _wait(backend, name, 3)
        updated = backend.update_endpoint(endpoint_name=name, version=2, policy=policy)
        (green,) = [v for v in updated.variants if v.weight > 0]
        assert green.version == 2 and green.current_instance_count == 3, "green starts as big as blue was"
        rolled = backend.rollback(endpoint_name=name)
    assert load.result.failures == [], load.result.failures[:5]
    assert rolled.version == 1 and rolled.status == "InService"
    assert any(v.startswith("v2-") for v in load.result.variants) and any(v.startswith("v1-") for v in load.result.variants)
