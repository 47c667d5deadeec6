"""``invoke bench --target recovery``: how fast a supervised local endpoint heals, and what supervision costs.

A real endpoint (the project's config: its instance count and autoscaler) is deployed in a scratch
project. For each way a part can fail, the part is broken ``rounds`` times while one keep-alive
client sends requests; measured: seconds until supervisord runs a new process for it *and* the
endpoint answers 200, and the requests that failed meanwhile. Then the memory (PSS) of what
supervision adds per endpoint: supervisord, the /ping checker and the autoscaler.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from ml.backends.local.backend import LocalBackend
from ml.backends.local.endpoints import AUTOSCALER
from ml.backends.local.supervise.config import HEALTH_PROGRAM
from ml.backends.local.supervise.control import Supervisor
from ml.errors import StateError
from ml.loadgen import KeepAliveClients
from tools.bench.scratch import deployed_endpoint

REPORT = Path("docs/benchmarks/recovery.md")
ENDPOINT = "bench-recovery"
BODY = b"5.1,3.5,1.4,0.2\n"
LIMIT_S = 60.0


@dataclass(frozen=True, kw_only=True)
class Outcome:
    scenario: str
    seconds: list[float]
    failed: list[int]
    sent: int


def _kill_master(program: str) -> Callable[[Supervisor], tuple[str, int]]:
    def kill(sv: Supervisor) -> tuple[str, int]:
        pid = sv.states()[program].pid
        os.kill(pid, signal.SIGKILL)
        return program, pid

    return kill


def _hang(program: str) -> Callable[[Supervisor], tuple[str, int]]:
    def hang(sv: Supervisor) -> tuple[str, int]:
        pid = sv.states()[program].pid
        master = psutil.Process(pid)
        for proc in [master, *master.children(recursive=True)]:
            proc.suspend()
        return program, pid

    return hang


def _kill_front_worker(sv: Supervisor) -> tuple[str, int]:
    master = psutil.Process(sv.states()["router-front"].pid)
    (worker,) = master.children()
    worker.kill()
    return "router-front worker", worker.pid


def _recovered(backend: LocalBackend, sv: Supervisor, program: str, old_pid: int) -> bool:
    if program.endswith(" worker"):
        master = psutil.Process(sv.states()["router-front"].pid)
        if old_pid in {c.pid for c in master.children()} or not master.children():
            return False
    else:
        found = sv.states().get(program)
        if found is None or found.state != "RUNNING" or found.pid == old_pid:
            return False
    try:
        return backend.invoke(endpoint_name=ENDPOINT, body=BODY).status_code == 200
    except StateError:  # the router's port is not listening yet
        return False


def _measure(
    backend: LocalBackend, sv: Supervisor, *, port: int, name: str, breaker: Callable[[Supervisor], tuple[str, int]], rounds: int
) -> Outcome:
    seconds, failed, sent = [], [], 0
    for _ in range(rounds):
        # A pause keeps the one client from flooding the count while a port is refusing.
        with KeepAliveClients(port=port, body=BODY, pause_s=0.01) as client:
            time.sleep(0.5)
            before = client.failed
            program, old_pid = breaker(sv)
            started = time.monotonic()
            while not _recovered(backend, sv, program, old_pid):
                if time.monotonic() - started > LIMIT_S:
                    raise RuntimeError(f"{name}: not recovered within {LIMIT_S:g}s")
                time.sleep(0.02)
            seconds.append(time.monotonic() - started)
            time.sleep(1.0)  # and nothing fails once it is back
            failed.append(client.failed - before)
            sent += client.ok + client.failed
    return Outcome(scenario=name, seconds=seconds, failed=failed, sent=sent)


def _pss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_full_info().pss) / 1e6


def run_recovery_bench(*, root: Path, rounds: int = 3) -> str:
    with deployed_endpoint(root=root, name=ENDPOINT) as (backend, endpoint):
        port = urlsplit(endpoint.url).port or 80
        sv = Supervisor(folder=backend.layout.supervisor_dir(ENDPOINT))
        instance = endpoint.variants[0].name.split("/", 1)[1]
        scenarios: list[tuple[str, Callable[[Supervisor], tuple[str, int]]]] = [
            ("model server master SIGKILL (one of the variant's instances)", _kill_master(instance)),
            ("router front master SIGKILL", _kill_master("router-front")),
            ("router back master SIGKILL", _kill_master("router-back")),
            ("router front worker SIGKILL", _kill_front_worker),
            ("model server hung (SIGSTOP; replaced after 3 failed /ping)", _hang(instance)),
        ]
        outcomes = [_measure(backend, sv, port=port, name=name, breaker=breaker, rounds=rounds) for name, breaker in scenarios]
        states = sv.states()
        supervisor_pid = int(sv.folder.joinpath("supervisord.pid").read_text().strip())
        memory = {
            "supervisord": _pss_mb(supervisor_pid),
            "/ping checker": _pss_mb(states[HEALTH_PROGRAM].pid),
            **({"autoscaler": _pss_mb(states[AUTOSCALER].pid)} if AUTOSCALER in states else {}),
        }
        master = psutil.Process(states[instance].pid)
        serve = _pss_mb(master.pid) + sum(float(c.memory_full_info().pss) / 1e6 for c in master.children(recursive=True))
        instances = backend.config.hosting_instance_count
    table = render(outcomes, memory, serve_mb=serve, rounds=rounds, instances=instances)
    (root / REPORT).parent.mkdir(parents=True, exist_ok=True)
    (root / REPORT).write_text(table, encoding="utf-8")
    return table


def render(outcomes: list[Outcome], memory: dict[str, float], *, serve_mb: float, rounds: int, instances: int) -> str:
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        "# Recovery benchmark (local backend, supervised endpoint)",
        "",
        f"`invoke bench --target recovery`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {psutil.cpu_count()} cores, "
        f"load average at the end {load}. One endpoint with {instances} instance(s) of one variant; each failure {rounds} times while",
        "one keep-alive client sends 1-row requests. Recovery: seconds from the failure until supervisord runs a new process",
        "for the part and the endpoint answers 200 (median, max). Failed: requests the client saw fail per round.",
        "",
        "| failure | recovery median (s) | recovery max (s) | failed requests per round | requests sent |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.scenario} | {statistics.median(o.seconds):.2f} | {max(o.seconds):.2f} | {', '.join(map(str, o.failed))} | {o.sent} |"
        )
    total = sum(memory.values())
    lines += [
        "",
        f"What supervision adds per endpoint (PSS): {', '.join(f'{k} {v:.1f} MB' for k, v in memory.items())}; "
        f"{total:.1f} MB in all (one model-server instance, master and worker: {serve_mb:.1f} MB).",
        "",
    ]
    return "\n".join(lines)
