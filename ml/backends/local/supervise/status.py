"""What an endpoint's processes are doing now, read from its supervisord: the honest status.

The record says what the last verb left (``InService``); this says whether that is still true.
An endpoint whose supervisord is gone (a reboot), whose router is down, or whose every serving
variant is down or failing /ping cannot serve, so it is ``OutOfService`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml.backends.local.endpoint_state import EndpointState
from ml.backends.local.records import ProcessState
from ml.backends.local.supervise.config import HEALTH_PROGRAM
from ml.backends.local.supervise.control import Supervisor
from ml.backends.records import EndpointStatus

ROUTER_PREFIX = "router"


@dataclass(frozen=True, kw_only=True)
class Live:
    status: EndpointStatus
    reason: str  # empty when it serves
    lines: tuple[str, ...]  # one per process, restart and health check, for `invoke describe`
    running: bool = True  # False when the endpoint's supervisord itself is down


def is_router(name: str) -> bool:
    return name.startswith(ROUTER_PREFIX)


def read(state: EndpointState, supervisor: Supervisor) -> Live:
    if not supervisor.alive():
        why = (
            f"no process of endpoint {state.name!r} runs (its supervisor is down: the machine restarted or the processes were "
            f"killed); `invoke restore` brings it back on {state.url or 'its URL'}"
        )
        return Live(
            status="OutOfService" if state.status == "InService" else state.status,
            reason=why,
            lines=(f"supervisord: DOWN ({why})",),
            running=False,
        )
    procs = supervisor.states()
    health = supervisor.health()
    lines = [_line(p) for name, p in sorted(procs.items()) if name != HEALTH_PROGRAM]
    for restart in health.get("restarts", [])[-10:]:
        lines.append(f"restart: {restart['program']} at {restart['time']}: {restart['reason']}")
    for program, check in sorted(health.get("checks", {}).items()):
        if program not in procs:
            continue  # a retired instance's last check: the checker drops it on its next tick
        before = " (before its last start)" if _stale(check, procs[program]) else ""
        verdict = "ok" if check["ok"] else "FAILED" if check.get("failures", 1) else "not answering yet"
        lines.append(f"health check: {program} at {check['time']}{before}: {verdict} ({check['detail']})")
    reason = _why_not_serving(state, procs, health)
    status: EndpointStatus = "OutOfService" if reason and state.status == "InService" else state.status
    return Live(status=status, reason=reason, lines=tuple(lines))


def _stale(check: dict[str, object], proc: ProcessState) -> bool:
    """A check of the process before this one started (a restart, a restore): it says nothing of it now."""
    at = check.get("at")
    return isinstance(at, (int, float)) and proc.state == "RUNNING" and at < proc.started


def _line(proc: ProcessState) -> str:
    return f"process {proc.name}: {proc.state} ({proc.detail})"


def _why_not_serving(state: EndpointState, procs: dict[str, ProcessState], health: dict[str, object]) -> str:
    routers = [p for name, p in procs.items() if is_router(name)]
    down = [p for p in routers if p.state != "RUNNING"]
    if not routers or down:
        return "; ".join(f"the router process {p.name} is {p.state} ({p.detail})" for p in down) or "the router is not configured"
    serving = [v for v in state.fleet if state.weights.get(v.id, 0) > 0]
    checks = health.get("checks", {}) if isinstance(health.get("checks"), dict) else {}
    problems = []
    for variant in serving:
        for name in variant.program_names():  # one instance that runs and answers /ping serves the variant
            proc = procs.get(name)
            check = checks.get(name) if isinstance(checks, dict) else None
            if proc is None or proc.state != "RUNNING":
                problems.append(f"{name} is {proc.state if proc else 'not configured'} ({proc.detail if proc else ''})")
            elif isinstance(check, dict) and check.get("failures", 0) and not _stale(check, proc):
                problems.append(f"{name} failed its last /ping at {check['time']} ({check['detail']})")
            else:
                return ""
    return "; ".join(problems) or "no variant has traffic"
