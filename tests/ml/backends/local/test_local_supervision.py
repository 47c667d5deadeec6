"""Supervised local endpoints, with real processes: kill parts of an endpoint and watch it heal.

Every test ends with a teardown checked by the process table (nothing works under the endpoint's
folder any more, its ports are free), not by the records.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from local_helpers import Load, Project, recorded_ports, url_port

from ml.backends.base import BlueGreenPolicy
from ml.backends.local import procs
from ml.backends.local.supervise.control import Supervisor
from ml.backends.local.supervise.ports import free
from ml.errors import DeployRolledBackError, StateError

pytestmark = pytest.mark.slow
BODY = b"5.1,3.5,1.4,0.2\n"
# The bound on how long requests may fail after a part of the endpoint dies.
RECOVERY_S = 10.0


@pytest.fixture
def endpoint(trained: Project, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"sv-{request.node.name.replace('_', '-')[:40]}"
    trained.backend.deploy_endpoint(endpoint_name=name, version=1)
    yield name
    _teardown_leaves_nothing(trained, name)


def _teardown_leaves_nothing(trained: Project, name: str) -> None:
    record = trained.backend.store.get("endpoints", name)
    ports = recorded_ports(record)
    trained.backend.teardown(endpoint_name=name)
    folder = trained.backend.layout.endpoint_dir(name)
    assert procs.processes_under(folder) == [], "teardown left processes of the endpoint running"
    assert all(free(port) for port in ports), f"teardown left one of the ports {ports} taken"


def _supervisor(trained: Project, name: str) -> Supervisor:
    return Supervisor(folder=trained.backend.layout.supervisor_dir(name))


def _variant_id(trained: Project, name: str) -> str:
    record = trained.backend.store.get("endpoints", name)
    assert record is not None
    (variant,) = [v["id"] for v in record["fleet"]]
    return str(variant)


def _group(pid: int) -> list[psutil.Process]:
    """The process and everything it started (a server's master and its workers)."""
    master = psutil.Process(pid)
    return [master, *master.children(recursive=True)]


def _gone(group: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in group)


def _recovery(trained: Project, name: str, check: Callable[[], bool] | None = None) -> float:
    """Seconds until the endpoint answers 200 again (and ``check`` holds), polled from now."""
    start = time.monotonic()
    while time.monotonic() - start < 60:
        try:
            ok = trained.backend.invoke(endpoint_name=name, body=BODY).status_code == 200
        except StateError:
            ok = False
        if ok and (check is None or check()):
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"endpoint {name} did not recover within 60 s")


def _running_new(trained: Project, name: str, program: str, old_pid: int) -> Callable[[], bool]:
    def check() -> bool:
        found = _supervisor(trained, name).states().get(program)
        return found is not None and found.state == "RUNNING" and found.pid != old_pid

    return check


def test_a_killed_model_server_is_restarted_and_describe_shows_it(trained: Project, endpoint: str) -> None:
    variant = _variant_id(trained, endpoint)
    old = _supervisor(trained, endpoint).states()[variant]
    workers = _group(old.pid)
    assert len(workers) >= 2, "serve runs a master and its workers"
    os.kill(old.pid, signal.SIGKILL)
    took = _recovery(trained, endpoint, _running_new(trained, endpoint, variant, old.pid))
    assert took < RECOVERY_S, f"requests recovered only after {took:.1f}s"
    # The dead master's orphaned workers were killed (by process group) before the restart.
    assert _gone(workers)
    seen = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert seen.status == "InService"
    assert any(f"restart: {variant}" in line and "exited unexpectedly" in line for line in seen.health), seen.health
    assert any(line.startswith(f"process {variant}: RUNNING") for line in seen.health), seen.health
    # Once it is back, no request fails.
    with Load(url_port=url_port(seen.url), connections=8) as load:
        time.sleep(2)
    assert load.result.failures == [] and load.result.ok > 20


def test_the_router_master_then_its_worker_are_replaced(trained: Project, endpoint: str) -> None:
    sv = _supervisor(trained, endpoint)
    for program in ("router-front", "router-back"):
        old = sv.states()[program]
        group = _group(old.pid)
        os.kill(old.pid, signal.SIGKILL)  # its workers live on, holding the port, until the restart kills them
        took = _recovery(trained, endpoint, _running_new(trained, endpoint, program, old.pid))
        assert took < RECOVERY_S, f"{program}: the URL served again only after {took:.1f}s"
        assert _gone(group), f"{program}: the dead master's workers still run"
    # A worker (not the master) dies: nginx's master forks a new one; the URL keeps serving.
    front = sv.states()["router-front"]
    (worker,) = psutil.Process(front.pid).children()
    worker.kill()
    took = _recovery(trained, endpoint, lambda: worker.pid not in {c.pid for c in psutil.Process(front.pid).children()})
    assert took < RECOVERY_S
    seen = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert seen.status == "InService"
    restarted = [line for line in seen.health if line.startswith("restart: router-")]
    assert len(restarted) == 2, seen.health


def test_killing_green_during_a_canary_step_rolls_back_and_clients_see_nothing(trained: Project, endpoint: str) -> None:
    policy = BlueGreenPolicy(  # a canary of one of the 2 instances
        traffic="CANARY", step_percent=50, wait_seconds=30.0, baking_seconds=1.0, error_rate_percent=1.0, p99_latency_ms=60000
    )
    outcome: list[BaseException] = []

    def update() -> None:
        try:
            trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=policy)
        except BaseException as err:  # handed to the test thread
            outcome.append(err)

    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    with Load(url_port=url_port(before.url), connections=8) as load:
        thread = threading.Thread(target=update)
        thread.start()
        green = _wait_for_canary(trained, endpoint)
        os.kill(_supervisor(trained, endpoint).states()[green].pid, signal.SIGKILL)
        thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], DeployRolledBackError), outcome
    assert "exited" in str(outcome[0])
    assert load.result.failures == [], load.result.failures[:5]
    assert any(v.startswith("v2-") for v in load.result.variants), "green took traffic before it was killed"
    after = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert (after.status, after.version, after.url) == ("InService", 1, before.url)


def test_killing_the_router_during_a_canary_step_the_update_still_completes(trained: Project, endpoint: str) -> None:
    policy = BlueGreenPolicy(
        traffic="CANARY", step_percent=50, wait_seconds=3.0, baking_seconds=1.0, error_rate_percent=1.0, p99_latency_ms=60000
    )
    outcome: list[object] = []

    def update() -> None:
        try:
            outcome.append(trained.backend.update_endpoint(endpoint_name=endpoint, version=2, policy=policy))
        except BaseException as err:  # handed to the test thread
            outcome.append(err)

    thread = threading.Thread(target=update)
    thread.start()
    _wait_for_canary(trained, endpoint)
    os.kill(_supervisor(trained, endpoint).states()["router-back"].pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert len(outcome) == 1 and not isinstance(outcome[0], BaseException), outcome
    after = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert (after.status, after.version) == ("InService", 2)
    assert trained.backend.invoke(endpoint_name=endpoint, body=BODY).variant.startswith("v2-")


def _wait_for_canary(trained: Project, name: str) -> str:
    """The green variant's id, once the record shows it taking part of the traffic."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = trained.backend.store.get("endpoints", name) or {}
        greens = [v for v, w in (record.get("weights") or {}).items() if v.startswith("v2-") and 0 < w < 100]
        if greens:
            return str(greens[0])
        time.sleep(0.02)
    raise AssertionError("the update never reached its canary step")


def test_a_variant_whose_ping_fails_is_replaced(trained: Project, endpoint: str) -> None:
    variant = _variant_id(trained, endpoint)
    old = _supervisor(trained, endpoint).states()[variant]
    group = _group(old.pid)
    for proc in group:  # hung, not dead: supervisord alone would never notice
        proc.suspend()
    try:
        took = _recovery(trained, endpoint, _running_new(trained, endpoint, variant, old.pid))
    finally:
        for proc in group:
            if proc.is_running():
                proc.resume()
    assert took < 60
    assert _gone(group)
    seen = trained.backend.describe_endpoint(endpoint_name=endpoint)
    replaced = [line for line in seen.health if line.startswith(f"restart: {variant}")]
    assert len(replaced) == 1 and "/ping failed 3 checks in a row" in replaced[0], seen.health


def test_a_thousand_clients_get_no_socket_error(trained: Project, endpoint: str, tmp_path: pytest.TempPathFactory) -> None:
    import resource
    import subprocess

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= 2048, f"this machine allows only {hard} open files; wrk needs > 1,000"
    script = os.path.join(str(tmp_path), "post.lua")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write('wrk.method = "POST"\nwrk.body = "5.1,3.5,1.4,0.2\\n"\nwrk.headers["Content-Type"] = "text/csv"\n')
    url = trained.backend.describe_endpoint(endpoint_name=endpoint).url
    done = subprocess.run(
        ["wrk", "-t2", "-c1000", "-d10s", "--timeout", "30s", "-s", script, f"{url}/invocations"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), min(hard, 16384))),
    )
    assert "Socket errors" not in done.stdout, done.stdout
    assert "Non-2xx" not in done.stdout, done.stdout
    assert int(re.search(r"(\d+) requests in", done.stdout).group(1)) > 1000, done.stdout  # type: ignore[union-attr]


def _reboot(trained: Project, name: str) -> None:
    """What a machine restart does to the endpoint: every process of it dies at once."""
    folder = trained.backend.layout.endpoint_dir(name)
    for proc in procs.processes_under(folder):
        proc.kill()
    psutil.wait_procs(procs.processes_under(folder), timeout=10)
    assert procs.processes_under(folder) == []


def test_after_a_reboot_one_command_restores_the_endpoint_on_its_url(trained: Project, endpoint: str) -> None:
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    _reboot(trained, endpoint)
    down = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert down.status == "OutOfService" and "invoke restore" in down.failure_reason
    with pytest.raises(StateError, match="supervisor is down"):
        trained.backend.invoke(endpoint_name=endpoint, body=BODY)
    lines = trained.backend.restore()
    assert any(f"restored endpoint {endpoint!r}" in line for line in lines), lines
    after = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert (after.status, after.version, after.url) == ("InService", before.version, before.url)
    assert [(v.version, v.weight) for v in after.variants] == [(v.version, v.weight) for v in before.variants]
    assert trained.backend.invoke(endpoint_name=endpoint, body=BODY).status_code == 200


def test_a_port_taken_since_the_reboot_is_named_and_a_new_url_only_on_request(trained: Project, endpoint: str) -> None:
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    _reboot(trained, endpoint)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", url_port(before.url)))
    squatter.listen()
    try:
        with pytest.raises(StateError, match=rf"port {url_port(before.url)} is now taken by .*--new-url"):
            trained.backend.restore()
        assert trained.backend.describe_endpoint(endpoint_name=endpoint).status == "OutOfService"
        lines = trained.backend.restore(new_url=True)
    finally:
        squatter.close()
    after = trained.backend.describe_endpoint(endpoint_name=endpoint)
    assert after.status == "InService" and after.url != before.url
    assert any("moves to" in line for line in lines), lines
    assert trained.backend.invoke(endpoint_name=endpoint, body=BODY).status_code == 200


def test_deploy_on_a_recorded_endpoint_after_a_reboot_restores_it(trained: Project, endpoint: str) -> None:
    before = trained.backend.describe_endpoint(endpoint_name=endpoint)
    _reboot(trained, endpoint)
    after = trained.backend.deploy_endpoint(endpoint_name=endpoint, version=before.version)
    assert (after.status, after.version, after.url) == ("InService", before.version, before.url)
    assert trained.backend.invoke(endpoint_name=endpoint, body=BODY).status_code == 200
