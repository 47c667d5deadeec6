"""The endpoint's router: a real nginx on loopback with weighted upstreams and graceful reload.

Each endpoint gets its own router (its own prefix, configs, logs and port), so its URL stays the
same while variants come and go behind it. The router is two nginx: a *front* on the endpoint's
URL that keeps client connections alive and never reloads, and a *back* with the weighted
upstreams. Traffic shifts rewrite the back's weights and send it ``nginx -s reload``: old workers
finish their requests while new ones use the new weights. A reload closes the idle connections
the front keeps to the back; the front retries a request that meets one, so clients keep their
connections and see no failure (one nginx with client keep-alive lost 26–28 requests per canary
to exactly that race; see docs/local-mode.md for the measured cost of the hop).

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_text
from ml.backends.local import procs
from ml.backends.local.capture import CaptureConf
from ml.errors import ByocError, StateError

NGINX = "/usr/sbin/nginx"
GENERATION_PATH = "/__byoc/generation"
LOG_FORMAT = '$msec $status $request_time "$upstream_addr" "$upstream_status" "$upstream_response_time" "$request_uri"'
_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
WORKER_CONNECTIONS = 8192
RLIMIT_NOFILE = 16384
BACKLOG = 4096
# Concurrent client connections the front proxies; each takes a second connection to the back.
# Beyond it a client gets an immediate 503 with Retry-After (one connection, no upstream), so up
# to WORKER_CONNECTIONS - MAX_CLIENTS more clients are answered rather than reset.
MAX_CLIENTS = 3000
UNAVAILABLE = "no model variant of this endpoint can answer right now (restarting or replaced); retry shortly"
BUSY = "this endpoint is at capacity ({max_clients} concurrent clients); retry shortly"


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


def _common() -> str:
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    return f"""{user}
worker_processes 1;
# Each proxied client holds two connections (client side and upstream side); 1,024 of them made
# wrk -c1000 see resets. File limit above the connections so accept() never fails for want of fds.
worker_rlimit_nofile {RLIMIT_NOFILE};
events {{ worker_connections {WORKER_CONNECTIONS}; }}
"""


_FRONT_PROXY = """      proxy_pass http://byoc_back;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # A reload of the back closes the idle connections this front keeps to it; a request sent
      # on one at that instant fails on a cached connection, which nginx retries on a new one
      # (POST only with non_idempotent). Inferences are pure functions, so a retry is safe.
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 5;
      proxy_connect_timeout 2s;
      proxy_read_timeout 90s;
      error_page 502 504 =503 @unavailable;
      error_page 503 @busy;
"""


def render_front_conf(
    *, prefix: Path, port: int, back_port: int, capture: CaptureConf | None = None, max_clients: int = MAX_CLIENTS
) -> str:
    """The front: the endpoint's URL. It never reloads, so clients may keep their connections.

    With ``capture``, ``/invocations`` (and only it, as on SageMaker) is sampled and recorded.
    """
    return f"""# Written by the byoc local backend once, when the endpoint starts; never reloaded.
{capture.main_lines() if capture else ""}{_common()}pid {prefix / "logs" / "front.pid"};
error_log {prefix / "logs" / "front-error.log"} warn;
http {{
  access_log off;
{_temps(prefix, "front")}
  keepalive_timeout 75s;
  keepalive_requests 100000;
  client_max_body_size 100m;
  client_body_buffer_size 1m;
  limit_conn_zone $server_port zone=byoc_clients:1m;
{capture.http_lines() if capture else ""}  upstream byoc_back {{
    # max_fails=0: the back is never marked down; a reload is not a failure.
    server 127.0.0.1:{back_port} max_fails=0;
    keepalive 64;
    keepalive_timeout 30s;
  }}
  server {{
    listen 127.0.0.1:{port} backlog={BACKLOG};
    limit_conn byoc_clients {max_clients};
    limit_conn_status 503;
{capture.server_lines() if capture else ""}    location / {{
{_FRONT_PROXY}    }}
    location = /invocations {{
{capture.divert_lines() if capture else ""}{_FRONT_PROXY}    }}
{capture.location(_FRONT_PROXY) if capture else ""}    location @unavailable {{
      default_type text/plain;
      add_header Retry-After 1 always;
      return 503 "{UNAVAILABLE}\\n";
    }}
    location @busy {{
      default_type text/plain;
      add_header Retry-After 1 always;
      return 503 "{BUSY.format(max_clients=max_clients)}\\n";
    }}
  }}
}}
"""


def render_conf(*, prefix: Path, back_port: int, upstreams: list[Upstream], generation: int) -> str:
    """The back: weighted upstreams over the variants; rewritten and reloaded on every shift."""
    servers = "\n".join(
        f"    server {u.addr} weight={u.weight} max_fails=1 fail_timeout=5s{' backup' if u.backup else ''};" for u in upstreams
    )
    names = "\n".join(f'    "{u.addr}" "{u.name}";' for u in upstreams)
    return f"""# Written by the byoc local backend; rewritten on every traffic shift.
{_common()}pid {prefix / "logs" / "nginx.pid"};
error_log {prefix / "logs" / "error.log"} warn;
http {{
  log_format byoc '{LOG_FORMAT}';
{_temps(prefix, "back")}
  # The only client is the front (loopback TCP: a unix socket's path under the state folder can
  # pass the 108-byte limit). On a reload old workers close the idle
  # connections it keeps here; the front retries a request that meets one (see its config), so
  # the endpoint's own clients keep their connections and see no failure. Idle longer than the
  # front keeps them, so the back never closes a connection the front may be about to use.
  keepalive_timeout 75s;
  keepalive_requests 100000;
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
    listen 127.0.0.1:{back_port} backlog={BACKLOG};
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
      # No variant could take the request (all down or being replaced): a 503 that says so,
      # which clients retry, instead of nginx's bare 502 page.
      error_page 502 504 =503 @unavailable;
    }}
    location @unavailable {{
      default_type text/plain;
      add_header Retry-After 1 always;
      return 503 "{UNAVAILABLE}\\n";
    }}
  }}
}}
"""


def _temps(prefix: Path, name: str) -> str:
    return "\n".join(f"  {t}_temp_path {prefix / 'temp' / name / t};" for t in _TEMP_DIRS)


@dataclass(frozen=True, kw_only=True)
class RouterProcess:
    """One long-running process of the router, run in the foreground (whoever starts it supervises it)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path


class Router:
    def __init__(self, *, prefix: Path, capture: CaptureConf | None = None, max_clients: int = MAX_CLIENTS) -> None:
        self.prefix = prefix
        self.capture = capture
        self.max_clients = max_clients

    @property
    def conf(self) -> Path:
        return self.prefix / "conf" / "nginx.conf"

    @property
    def front_conf(self) -> Path:
        return self.prefix / "conf" / "front.conf"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    def _argv(self, conf: Path, error_log: str, *extra: str) -> list[str]:
        return [nginx_binary(), "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "logs" / error_log), *extra]

    def _write(self, *, back_port: int, upstreams: list[Upstream], generation: int, port: int | None = None) -> None:
        for folder in ("conf", "logs", *(f"temp/{side}/{t}" for side in ("front", "back") for t in _TEMP_DIRS)):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        if port is not None:
            if self.capture is not None:  # nginx logs below it only once it exists
                self.capture.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                self.front_conf,
                render_front_conf(prefix=self.prefix, port=port, back_port=back_port, capture=self.capture, max_clients=self.max_clients),
            )
        atomic_write_text(self.conf, render_conf(prefix=self.prefix, back_port=back_port, upstreams=upstreams, generation=generation))

    def processes(self) -> list[RouterProcess]:
        """The router's long-running processes, back first; each stays in the foreground so it can be supervised."""
        env = {"PATH": os.environ.get("PATH", "")}
        return [
            RouterProcess(
                name="router-back",
                argv=self._argv(self.conf, "error.log", "-g", "daemon off;"),
                env=env,
                log=self.prefix / "logs" / "nginx.out",
            ),
            RouterProcess(
                name="router-front",
                argv=self._argv(self.front_conf, "front-error.log", "-g", "daemon off;"),
                env=env,
                log=self.prefix / "logs" / "front.out",
            ),
        ]

    def start(self, *, port: int, upstreams: list[Upstream]) -> dict[str, Any]:
        """Start the back and the front nginx, each in its own session; return the router's record.

        The record is the back's process record (the one traffic shifts reload) with the front's
        under ``front``: :meth:`alive` and :meth:`stop` take both.
        """
        back_port = procs.free_port()
        self._write(port=port, back_port=back_port, upstreams=upstreams, generation=1)
        back, front = self.processes()
        record = procs.spawn(back.argv, env=back.env, log=back.log)
        record["front"] = procs.spawn(front.argv, env=front.env, log=front.log)
        problem = procs.wait_healthy(f"http://127.0.0.1:{port}{GENERATION_PATH}", record=record, timeout=10, what="the nginx router")
        if problem:
            self.stop(record)
            raise StateError(
                f"{problem}\n{procs.tail(self.prefix / 'logs' / 'error.log')}\n{procs.tail(self.prefix / 'logs' / 'front-error.log')}"
            )
        return record | {"port": port, "back_port": back_port, "generation": 1}

    @staticmethod
    def alive(record: Mapping[str, Any]) -> bool:
        """Both nginx masters still run and are the ones we started (a record from before the
        front existed has only the back)."""
        front = record.get("front")
        return procs.is_ours(record) and (front is None or procs.is_ours(front))

    @staticmethod
    def records(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Every process record of the router (to keep them when stopping strays)."""
        front = record.get("front")
        return [record, *([front] if isinstance(front, Mapping) else [])]

    @staticmethod
    def stop(record: Mapping[str, Any]) -> bool:
        """Stop the front (clients first) then the back; True if either was still ours."""
        stopped = [procs.stop(r) for r in reversed(Router.records(record))]
        return any(stopped)

    def prepare(self, *, port: int, back_port: int, upstreams: list[Upstream], generation: int = 1) -> list[RouterProcess]:
        """Write both configs; return the processes for a supervisor to run (an endpoint's path).

        ``generation`` lets a restored endpoint keep counting from its recorded one.
        """
        self._write(port=port, back_port=back_port, upstreams=upstreams, generation=generation)
        return self.processes()

    def wait_ready(self, *, port: int, generation: int = 1, timeout: float = 10.0) -> None:
        """Return once the router answers ``generation`` through ``port`` (started by a supervisor)."""
        self._wait_generation(port, generation, timeout=timeout)

    def shift(self, *, record: dict[str, Any], upstreams: list[Upstream]) -> dict[str, Any]:
        """Apply new weights with a graceful reload of the back; return once new workers serve them."""
        if not self.alive(record):
            raise StateError(f"the endpoint's router (pid {record.get('pid')}) is not running; run `invoke teardown` and deploy again")
        generation = int(record["generation"]) + 1
        self._write(back_port=int(record["back_port"]), upstreams=upstreams, generation=generation)
        done = subprocess.run(self._argv(self.conf, "error.log", "-s", "reload"), capture_output=True, text=True, check=False)
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
