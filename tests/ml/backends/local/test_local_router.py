"""The router's connections, seen from a real upstream server behind a real nginx front and back."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ml.backends.local import procs
from ml.backends.local.router import Router, Upstream


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
def router(tmp_path: Path, upstream: tuple[int, list[int]]) -> Iterator[tuple[Router, dict[str, object]]]:
    found = Router(prefix=tmp_path / "router")
    record = found.start(port=procs.free_port(), upstreams=[Upstream(name="v1-test", port=upstream[0], weight=100)])
    yield found, record
    Router.stop(record)


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
    router: tuple[Router, dict[str, object]], upstream: tuple[int, list[int]]
) -> None:
    _, record = router
    # Every client connects anew and says Connection: close; the router's side stays open.
    answers = [_post(int(str(record["port"])), close=True) for _ in range(60)]
    assert answers == [(200, "v1-test")] * 60
    _, ports = upstream
    assert len(ports) == 60
    assert len(set(ports)) <= 2, f"{len(set(ports))} upstream connections for 60 requests: the router does not keep them alive"


def test_a_shift_keeps_clients_connected_and_serving(router: tuple[Router, dict[str, object]], upstream: tuple[int, list[int]]) -> None:
    found, record = router
    conn = http.client.HTTPConnection("127.0.0.1", int(str(record["port"])), timeout=10)
    statuses = []
    for generation in range(2, 6):
        record = found.shift(record=dict(record), upstreams=[Upstream(name=f"v{generation}-test", port=upstream[0], weight=100)])
        conn.request("POST", "/invocations", body=b"1\n")
        answer = conn.getresponse()
        answer.read()
        statuses.append((answer.status, answer.getheader("X-Byoc-Variant")))
        sock = conn.sock
        assert sock is not None, "the front closed a kept-alive client connection across a reload"
    assert statuses == [(200, f"v{g}-test") for g in range(2, 6)]
    conn.close()


def test_stop_leaves_no_router_process(tmp_path: Path, upstream: tuple[int, list[int]]) -> None:
    found = Router(prefix=tmp_path / "router")
    record = found.start(port=procs.free_port(), upstreams=[Upstream(name="v1-test", port=upstream[0], weight=100)])
    assert len(Router.records(record)) == 2 and Router.alive(record)
    assert Router.stop(record)
    assert procs.processes_under(tmp_path / "router") == []
    assert not Router.alive(record)
