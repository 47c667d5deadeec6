"""``invoke bench --target capacity``: how many concurrent clients one local endpoint holds.

A real endpoint (the project's config: its instances, supervisord, autoscaler, capture) is deployed
in a scratch project and driven by wrk at rising client counts, keep-alive clients and closing
(``Connection: close``) clients. Per step: req/s, p50/p99, socket errors (connect, read, write,
timeout: what a client sees as a reset or a refusal) and non-2xx answers (the router's honest
"503, retry" beyond capacity) apart. The result names the most clients served with no socket error.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from ml.errors import ByocError, UserInputError
from tools.bench.scratch import deployed_endpoint

REPORT = Path("docs/benchmarks/capacity.md")
ENDPOINT = "bench-capacity"
STEPS = (64, 256, 1000, 2000, 4000)
CLIENTS = ("keep-alive", "close")
_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "text/csv"
{connection}wrk.body = "5.1,3.5,1.4,0.2\\n"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("CAPACITY %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end
"""
_RESULT = re.compile(r"^CAPACITY (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Step:
    clients: int
    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect + read + write + timeout
    non_2xx: int
    load_1m: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def parse(stdout: str, *, clients: int, client: str, load_1m: float) -> Step:
    match = _RESULT.search(stdout)
    if match is None:
        raise ByocError(f"wrk printed no CAPACITY line (did the endpoint answer?): {stdout[-300:]!r}")
    requests, duration_us, p50, p99, connect, read, write, timeout, status = (int(g) for g in match.groups())
    if duration_us <= 0:
        raise ByocError(f"wrk reported a run of {duration_us} µs")
    return Step(
        clients=clients, client=client, requests=requests, seconds=duration_us / 1e6, p50_ms=p50 / 1e3, p99_ms=p99 / 1e3,
        socket_errors=connect + read + write + timeout, non_2xx=status, load_1m=load_1m,
    )  # fmt: skip


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """Client counts, rising; a clear error for anything else or more than the file limit allows."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not steps or any(n < 1 for n in steps) or list(steps) != sorted(set(steps)):
        raise UserInputError(f"client counts must be rising positive numbers such as 64,256,1000, not {list(steps)}")
    if hard != resource.RLIM_INFINITY and max(steps) + 64 > hard:
        raise UserInputError(f"{max(steps)} clients need more open files than this machine allows ({hard}); lower the largest count")
    return tuple(steps)


def _wrk(port: int, *, clients: int, client: str, duration_s: float, scripts: Path) -> Step:
    script = scripts / f"{client}.lua"
    script.write_text(_LUA.format(connection='wrk.headers["Connection"] = "close"\n' if client == "close" else ""), encoding="utf-8")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = hard if hard != resource.RLIM_INFINITY else clients + 1024
    done = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{duration_s:g}s", "--timeout", "10s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/invocations"],
        capture_output=True, text=True, timeout=duration_s + 120, check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (files, files)),
    )  # fmt: skip
    if done.returncode != 0:
        raise ByocError(f"wrk failed: {(done.stderr or done.stdout)[-300:]}")
    return parse(done.stdout, clients=clients, client=client, load_1m=os.getloadavg()[0])


def run_capacity_bench(*, root: Path, steps: Sequence[int] = STEPS, duration_s: float = 5.0) -> str:
    counts = check_steps(steps)
    results: list[Step] = []
    with deployed_endpoint(root=root, name=ENDPOINT) as (backend, endpoint):
        port = urlsplit(endpoint.url).port or 80
        for clients in counts:
            for client in CLIENTS:
                results.append(_wrk(port, clients=clients, client=client, duration_s=duration_s, scripts=backend.root))
                time.sleep(1.0)  # closed sockets leave TIME_WAIT behind: let the next step start clean
        instances = backend.config.hosting_instance_count
    table = render(results, duration_s=duration_s, instances=instances)
    (root / REPORT).parent.mkdir(parents=True, exist_ok=True)
    (root / REPORT).write_text(table, encoding="utf-8")
    return table


def zero_error_limit(results: Sequence[Step], client: str) -> int:
    """The most clients of this kind served with no socket error (0 if even the first step had one)."""
    ok = [s.clients for s in results if s.client == client and s.socket_errors == 0]
    failed = [s.clients for s in results if s.client == client and s.socket_errors]
    below_first_failure = [n for n in ok if not failed or n < min(failed)]
    return max(below_first_failure, default=0)


def render(results: Sequence[Step], *, duration_s: float, instances: int) -> str:
    lines = [
        "# Capacity benchmark (local endpoint)",
        "",
        f"`invoke bench --target capacity`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {psutil.cpu_count()} cores "
        f"shared with wrk (2 threads), {duration_s:g} s per step. One real endpoint through its router (front and back nginx, "
        f"{instances} model-server instance(s), supervisord), 1-row POSTs. Socket errors are what a client sees as a refusal, "
        "reset or timeout; non-2xx are the router's `503` answers beyond capacity.",
        "",
        "| clients | client | req/s | p50 ms | p99 ms | socket errors | non-2xx | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results:
        cells = (
            s.clients,
            s.client,
            f"{s.per_s:,.0f}",
            f"{s.p50_ms:.1f}",
            f"{s.p99_ms:.1f}",
            s.socket_errors,
            s.non_2xx,
            f"{s.load_1m:.1f}",
        )
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += [""]
    lines += [f"Most {c} clients with zero socket errors: {zero_error_limit(results, c):,}." for c in CLIENTS]
    lines += [""]
    return "\n".join(lines)
