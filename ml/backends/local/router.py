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

import dataclasses
import os
import pwd
import signal
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.backends.local.capture import CaptureConf
from ml.backends.local.records import Program, RouterRecord, Upstream
from ml.errors import StateError

BACK, FRONT = "router-back", "router-front"  # supervisord's names of its two programs
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


class Router:
    """One endpoint's router: its two configs under ``prefix`` and the two nginx programs that run them."""

    def __init__(self, *, prefix: Path, nginx: str, capture: CaptureConf | None = None, max_clients: int = MAX_CLIENTS) -> None:
        self.prefix = prefix
        self.nginx = nginx
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
        return [self.nginx, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "logs" / error_log), *extra]

    def _write_back(self, record: RouterRecord, upstreams: list[Upstream]) -> None:
        back = render_conf(prefix=self.prefix, back_port=record.back_port, upstreams=upstreams, generation=record.generation)
        atomic_write_text(self.conf, back)

    def prepare(self, *, record: RouterRecord, upstreams: list[Upstream]) -> None:
        """Write both configs (the front's only here: it is never rewritten while it runs).

        ``record.generation`` lets a restored endpoint keep counting from its recorded one.
        """
        for folder in ("conf", "logs", *(f"temp/{side}/{t}" for side in ("front", "back") for t in _TEMP_DIRS)):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        if self.capture is not None:  # nginx logs below it only once it exists
            self.capture.root.mkdir(parents=True, exist_ok=True)
        front = render_front_conf(
            prefix=self.prefix, port=record.port, back_port=record.back_port, capture=self.capture, max_clients=self.max_clients
        )
        atomic_write_text(self.front_conf, front)
        self._write_back(record, upstreams)

    def programs(self, *, env: Mapping[str, str]) -> list[Program]:
        """The router's two nginx, back first, in the foreground so that a supervisor runs them."""
        return [
            Program(
                name=BACK,
                argv=self._argv(self.conf, "error.log", "-g", "daemon off;"),
                env=env,
                directory=self.prefix,
                log=self.prefix / "logs" / "nginx.out",
            ),
            Program(
                name=FRONT,
                argv=self._argv(self.front_conf, "front-error.log", "-g", "daemon off;"),
                env=env,
                directory=self.prefix,
                log=self.prefix / "logs" / "front.out",
            ),
        ]

    def wait_ready(self, *, record: RouterRecord, timeout: float = 10.0) -> None:
        """Return once the router answers ``record.generation`` through its URL's port."""
        self._wait_generation(record.port, record.generation, timeout=timeout)

    def shift(self, *, record: RouterRecord, upstreams: list[Upstream], master: int) -> RouterRecord:
        """Apply new weights with a graceful reload of the running back (its master's pid: ``master``);
        return once new workers serve them.

        The reload is a SIGHUP to that pid, which is all ``nginx -s reload`` does, minus reading the
        pid from nginx.pid: a file an exiting orphan of a killed run may have just deleted.
        """
        shifted = dataclasses.replace(record, generation=record.generation + 1)
        self._write_back(shifted, upstreams)
        try:
            os.kill(master, signal.SIGHUP)
        except OSError as err:
            raise StateError(f"the router's back nginx (pid {master}) could not be reloaded: {err}") from err
        self._wait_generation(record.port, shifted.generation)
        return shifted

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
