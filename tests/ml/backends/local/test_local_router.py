"""The router's connections, seen from a real upstream server behind a real nginx front and back."""

from __future__ import annotations

import contextlib
import http.client
import re
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from local_helpers import Project, supervised_router

from ml.backends.local import procs
from ml.backends.local.records import RouterRecord, Upstream
from ml.backends.local.router import Router
from ml.backends.local.supervise.control import Supervisor


class _Recorder(BaseHTTPRequestHandler):
    """Answers every POST and records the client port of the connection it came on."""

    protocol_version = "HTTP/1.1"  # keep-alive: one connection may carry many requests
    ports: list[int]
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.ports.append(self.client_address[1])
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[tuple[int, list[int]]]:
    ports: list[int] = []
    handler = type("Recorder", (_Recorder,), {"ports": ports})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ports
    server.shutdown()
    server.server_close()


@pytest.fixture
def router(tmp_path: Path, upstream: tuple[int, list[int]]) -> Iterator[tuple[Router, RouterRecord, Supervisor]]:
    with supervised_router(tmp_path, [Upstream(name="v1-test", port=upstream[0], weight=100)]) as running:
        yield running


def _post(port: int, *, close: bool) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/invocations", body=b"1\n", headers={"Connection": "close"} if close else {})
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("X-Byoc-Variant", "")
    finally:
        conn.close()


def test_the_router_reuses_its_connections_to_the_model_server(
    router: tuple[Router, RouterRecord, Supervisor], upstream: tuple[int, list[int]]
) -> None:
    _, record, _ = router
    # Every client connects anew and says Connection: close; the router's side stays open.
    answers = [_post(record.port, close=True) for _ in range(60)]
    assert answers == [(200, "v1-test")] * 60
    _, ports = upstream
    assert len(ports) == 60
    assert len(set(ports)) <= 2, f"{len(set(ports))} upstream connections for 60 requests: the router does not keep them alive"


def test_a_shift_keeps_clients_connected_and_serving(
    router: tuple[Router, RouterRecord, Supervisor], upstream: tuple[int, list[int]]
) -> None:
    found, record, supervisor = router
    (found.prefix / "logs" / "nginx.pid").unlink()  # what an exiting orphan of a killed run can do: not needed
    master = supervisor.states()["router-back"].pid
    conn = http.client.HTTPConnection("127.0.0.1", record.port, timeout=10)
    statuses = []
    for generation in range(2, 6):
        upstreams = [Upstream(name=f"v{generation}-test", port=upstream[0], weight=100)]
        record = found.shift(record=record, upstreams=upstreams, master=master)
        assert record.generation == generation
        conn.request("POST", "/invocations", body=b"1\n")
        answer = conn.getresponse()
        answer.read()
        statuses.append((answer.status, answer.getheader("X-Byoc-Variant")))
        sock = conn.sock
        assert sock is not None, "the front closed a kept-alive client connection across a reload"
    assert statuses == [(200, f"v{g}-test") for g in range(2, 6)]
    conn.close()


def test_stopping_its_supervisor_leaves_no_router_process(tmp_path: Path, upstream: tuple[int, list[int]]) -> None:
    with supervised_router(tmp_path, [Upstream(name="v1-test", port=upstream[0], weight=100)]) as (found, record, _):
        masters = [p for p in procs.processes_under(found.prefix) if p.name() == "nginx" and p.parent().name() != "nginx"]
        assert len(masters) == 2, "the front and the back nginx run"
        assert _post(record.port, close=True) == (200, "v1-test")
    assert procs.processes_under(found.prefix) == []
    assert procs.processes_under(tmp_path) == []


def test_no_variant_to_answer_is_a_503_that_says_so(tmp_path: Path) -> None:
    with supervised_router(tmp_path, [Upstream(name="v1-gone", port=procs.free_port(), weight=100)]) as (_, record, _):
        conn = http.client.HTTPConnection("127.0.0.1", record.port, timeout=10)
        conn.request("POST", "/invocations", body=b"1\n")
        answer = conn.getresponse()
        body = answer.read().decode()
        conn.close()
    assert answer.status == 503
    assert "no model variant of this endpoint can answer" in body
    assert answer.getheader("Retry-After") == "1"


def test_beyond_its_client_limit_the_router_answers_503_at_once(tmp_path: Path, upstream: tuple[int, list[int]]) -> None:
    with contextlib.ExitStack() as stack:
        _, record, _ = stack.enter_context(
            supervised_router(tmp_path, [Upstream(name="v1-test", port=upstream[0], weight=100)], max_clients=1)
        )
        port = record.port
        holder = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        # A request in progress (its body not sent yet) holds the one client slot.
        holder.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 10\r\n\r\n")
        time.sleep(0.3)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/invocations", body=b"1\n")
        answer = conn.getresponse()
        body = answer.read().decode()
        conn.close()
        holder.sendall(b"5.1,3.5,1\n")  # the held request completes normally
        assert holder.recv(4096).startswith(b"HTTP/1.1 200")
    assert answer.status == 503
    assert "this endpoint is at capacity (1 concurrent clients)" in body
    assert answer.getheader("Retry-After") == "1"


@pytest.mark.slow
def test_a_thousand_concurrent_clients_get_no_socket_error(trained: Project, tmp_path: Path) -> None:
    """wrk with 1,000 connections for 10 s against a real endpoint: every connection is accepted and answered."""
    trained.backend.deploy_endpoint(endpoint_name="thousand", version=1)
    try:
        url = trained.backend.describe_endpoint(endpoint_name="thousand").url
        script = tmp_path / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = "5.1,3.5,1.4,0.2\\n"\nwrk.headers["Content-Type"] = "text/csv"\n')
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        assert hard == resource.RLIM_INFINITY or hard >= 2048, f"this machine allows only {hard} open files; wrk needs > 1,000"
        done = subprocess.run(
            ["wrk", "-t2", "-c1000", "-d10s", "--timeout", "30s", "-s", str(script), f"{url}/invocations"],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)),
        )
    finally:
        trained.backend.teardown(endpoint_name="thousand")
    assert "Socket errors" not in done.stdout, done.stdout
    assert "Non-2xx" not in done.stdout, done.stdout
    assert int(re.search(r"(\d+) requests in", done.stdout).group(1)) > 1000, done.stdout  # type: ignore[union-attr]
