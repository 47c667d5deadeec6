"""The endpoint's router: a real nginx on loopback with weighted upstreams and graceful reload.

Each endpoint gets its own nginx (its own prefix, config, logs and port), so its URL stays the
same while variants come and go behind it. Traffic shifts rewrite the upstream weights and send
``nginx -s reload``: old workers finish their requests while new ones use the new weights.

``proxy_next_upstream ... non_idempotent`` is what keeps clients whole during a bad update: a
POST that reaches a dying or failing green is retried on blue instead of failing the caller,
while the access log still records green's own status for the alarms (``$upstream_status``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_text
from ml.backends.local import procs
from ml.errors import ByocError, StateError

NGINX = "/usr/sbin/nginx"
GENERATION_PATH = "/__byoc/generation"
LOG_FORMAT = '$msec $status $request_time "$upstream_addr" "$upstream_status" "$upstream_response_time" "$request_uri"'
_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True, kw_only=True)
class Upstream:
    name: str  # the variant id, echoed to clients in X-Byoc-Variant
    port: int
    weight: int  # 1-100; nginx has no weight 0, so a variant with no traffic is a backup or absent
    backup: bool = False

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)
    if found is None:
        raise ByocError("nginx is not installed; the local endpoint routes through it (Debian: `apt-get install nginx`)")
    return found


def render_conf(*, prefix: Path, port: int, upstreams: list[Upstream], generation: int) -> str:
    servers = "\n".join(
        f"    server {u.addr} weight={u.weight} max_fails=1 fail_timeout=5s{' backup' if u.backup else ''};" for u in upstreams
    )
    names = "\n".join(f'    "{u.addr}" "{u.name}";' for u in upstreams)
    temps = "\n".join(f"  {t}_temp_path {prefix / 'temp' / t};" for t in _TEMP_DIRS)
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    return f"""# Written by the byoc local backend; rewritten on every traffic shift.
{user}
worker_processes 1;
pid {prefix / "logs" / "nginx.pid"};
error_log {prefix / "logs" / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  log_format byoc '{LOG_FORMAT}';
{temps}
  # No client keep-alive: on a reload, old workers close idle kept-alive connections, and a client
  # that sends on one at that instant sees a broken pipe. One request per connection has no race.
  # Measured: with keepalive_timeout 65s, 16 keep-alive clients lost 26 and 28 requests (broken
  # pipes) in two canary updates (test_local_bluegreen.py[keep-alive]); nginx has no way to hand a
  # kept-alive client connection to the new workers, so the cost stays until the router stops
  # reloading (a front that never reloads, left for later).
  keepalive_timeout 0;
  client_max_body_size 100m;
  client_body_buffer_size 1m;
  upstream byoc_variants {{
{servers}
    # Connections to the model servers stay open between requests (no handshake per request). A
    # request that fails on a reused connection the server has just closed is retried by nginx on
    # a fresh one, so idle closes and variant shutdowns cost no client request.
    keepalive 32;
    keepalive_timeout 30s;
  }}
  map $upstream_addr $byoc_variant {{
    default $upstream_addr;
{names}
  }}
  server {{
    listen 127.0.0.1:{port};
    access_log {prefix / "logs" / "access.log"} byoc;
    location = {GENERATION_PATH} {{ access_log off; return 200 "{generation}\\n"; }}
    location / {{
      proxy_pass http://byoc_variants;
      proxy_next_upstream error timeout http_500 http_502 http_503 http_504 non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Byoc-Variant $byoc_variant always;
    }}
  }}
}}
"""


@dataclass(frozen=True, kw_only=True)
class RouterProcess:
    """One long-running process of the router, run in the foreground (whoever starts it supervises it)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path


class Router:
    def __init__(self, *, prefix: Path) -> None:
        self.prefix = prefix

    @property
    def conf(self) -> Path:
        return self.prefix / "conf" / "nginx.conf"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    def _argv(self, *extra: str) -> list[str]:
        return [nginx_binary(), "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.prefix / "logs" / "error.log"), *extra]

    def _write(self, *, port: int, upstreams: list[Upstream], generation: int) -> None:
        for folder in ("conf", "logs", *(f"temp/{t}" for t in _TEMP_DIRS)):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.conf, render_conf(prefix=self.prefix, port=port, upstreams=upstreams, generation=generation))

    def processes(self) -> list[RouterProcess]:
        """The router's long-running processes; each stays in the foreground so it can be supervised."""
        return [
            RouterProcess(
                name="router",
                argv=self._argv("-g", "daemon off;"),
                env={"PATH": os.environ.get("PATH", "")},
                log=self.prefix / "logs" / "nginx.out",
            )
        ]

    def start(self, *, port: int, upstreams: list[Upstream]) -> dict[str, Any]:
        """Start nginx in the foreground of its own session; return its process record."""
        (nginx,) = self.prepare(port=port, upstreams=upstreams)
        record = procs.spawn(nginx.argv, env=nginx.env, log=nginx.log)
        problem = procs.wait_healthy(f"http://127.0.0.1:{port}{GENERATION_PATH}", record=record, timeout=10, what="the nginx router")
        if problem:
            procs.stop(record)
            raise StateError(f"{problem}\n{procs.tail(self.prefix / 'logs' / 'error.log')}")
        return record | {"port": port, "generation": 1}

    def prepare(self, *, port: int, upstreams: list[Upstream]) -> list[RouterProcess]:
        """Write the config; return the processes for a supervisor to run (p14: the supervised path)."""
        self._write(port=port, upstreams=upstreams, generation=1)
        return self.processes()

    def wait_ready(self, *, port: int, timeout: float = 10.0) -> None:
        """Return once the router answers on ``port`` (started by a supervisor, not by :meth:`start`)."""
        self._wait_generation(port, 1, timeout=timeout)

    def shift(self, *, record: dict[str, Any], upstreams: list[Upstream]) -> dict[str, Any]:
        """Apply new weights with a graceful reload; return once new workers serve them."""
        if not procs.is_ours(record):
            raise StateError(f"the endpoint's router (pid {record.get('pid')}) is not running; run `invoke teardown` and deploy again")
        generation = int(record["generation"]) + 1
        self._write(port=int(record["port"]), upstreams=upstreams, generation=generation)
        done = subprocess.run(self._argv("-s", "reload"), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StateError(f"nginx -s reload failed: {done.stderr.strip()}")
        self._wait_generation(int(record["port"]), generation)
        return record | {"generation": generation}

    def _wait_generation(self, port: int, generation: int, timeout: float = 10.0) -> None:
        url = f"http://127.0.0.1:{port}{GENERATION_PATH}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if int(answer.read().decode().strip() or 0) >= generation:
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise StateError(f"nginx did not load the new routing within {timeout:g}s; see {self.prefix / 'logs' / 'error.log'}")
