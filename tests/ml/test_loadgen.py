"""KeepAliveClients against a real HTTP server: every answer but 200 and every broken connection counts as failed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ml.loadgen import KeepAliveClients


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the endpoint's router
    answered = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with _Handler.lock:
            _Handler.answered += 1
            status = 503 if _Handler.answered % 4 == 0 else 200  # every fourth request fails
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_clients_count_every_request_and_every_non_200(server: ThreadingHTTPServer) -> None:
    with KeepAliveClients(port=server.server_address[1], body=b"1,2\n", clients=2) as load:
        time.sleep(0.5)
    assert load.ok + load.failed == _Handler.answered > 8
    assert load.failed == _Handler.answered // 4


def test_a_refused_connection_is_a_failure() -> None:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there any more
    with KeepAliveClients(port=port, body=b"1\n", pause_s=0.05) as load:
        time.sleep(0.3)
    assert load.ok == 0 and load.failed >= 2


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        _Recorder.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_several_bodies_are_sent_in_turn_like_a_data_set_replayed() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    rows = [f"{i},1\n".encode() for i in range(3)]
    try:
        with KeepAliveClients(port=httpd.server_address[1], body=rows, pause_s=0.02) as load:
            time.sleep(0.4)
    finally:
        httpd.shutdown()
        httpd.server_close()
    seen = _Recorder.bodies
    assert load.ok == len(seen) >= 6
    assert seen[:6] == rows * 2  # one client: every row in order, then again
    with pytest.raises(ValueError, match="at least one request body"):
        KeepAliveClients(port=1, body=[])
