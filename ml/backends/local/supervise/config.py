"""The supervisord configuration of one endpoint: one ``[program:x]`` per long-running process.

Every program runs through :mod:`ml.backends.local.supervise.pgrun`, which first kills whatever
is left of the program's previous process group (an nginx worker whose master was SIGKILLed
still holds the port), so a restart never collides with its own orphans. ``stopasgroup`` and
``killasgroup`` make a stop reach the whole group too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ml.backends.local.records import Program

# How long a program must stay up to count as started, and how often supervisord retries one that
# dies sooner before it marks it FATAL (then the endpoint is not InService and describe says why).
STARTSECS = 1
STARTRETRIES = 5
STOPWAITSECS = 10
HEALTH_PROGRAM = "health"
# The wrapper and the checker run as scripts by path: no PYTHONPATH of ours leaks into the programs.
HERE = Path(__file__).resolve().parent


def _quote(arg: str) -> str:
    # supervisord splits ``command`` with shlex; % must be doubled (it expands %(here)s etc).
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _env(env: Mapping[str, str]) -> str:
    return ",".join(f"{k}={_quote(v)}" for k, v in sorted(env.items()))


def pgid_file(directory: Path, name: str) -> Path:
    return directory / f".{name}.pgid"


def render(*, folder: Path, socket: Path, programs: Sequence[Program], python: str) -> str:
    """The whole config: a pure function of its arguments, so rewriting it for an unchanged
    program never makes supervisord see a change (and restart it)."""
    sections = [
        "; Written by the byoc local backend; rewritten whenever the endpoint's processes change.",
        "[supervisord]",
        f"logfile={folder / 'supervisord.log'}",
        "logfile_maxbytes=5MB",
        "logfile_backups=1",
        f"pidfile={folder / 'supervisord.pid'}",
        f"childlogdir={folder}",
        "nodaemon=true",
        "silent=true",
        "",
        "[unix_http_server]",
        f"file={socket}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{socket}",
        "",
    ]
    for prog in programs:
        wrapped = [python, str(HERE / "pgrun.py"), str(pgid_file(folder, prog.name)), "--", *prog.argv]
        sections += [
            f"[program:{prog.name}]",
            f"command={' '.join(_quote(a) for a in wrapped)}",
            f"directory={prog.directory}",
            f"environment={_env(prog.env)}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={STARTSECS}",
            f"startretries={STARTRETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOPWAITSECS}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={prog.log}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=1",
            "",
        ]
    checker = [python, str(HERE / "health.py"), str(folder)]
    sections += [
        f"[eventlistener:{HEALTH_PROGRAM}]",
        f"command={' '.join(_quote(a) for a in checker)}",
        f"directory={folder}",
        "events=TICK_5,PROCESS_STATE",
        "autorestart=true",
        f"stderr_logfile={folder / 'health.log'}",
        "",
    ]
    return "\n".join(sections)
