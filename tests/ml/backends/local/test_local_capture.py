"""Data capture by the router's front nginx: SageMaker's records, layout and sampling, never a failed request."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from local_helpers import Project, make_backend, supervised_router

from ml.backends.local.capture import CaptureConf
from ml.backends.local.records import RouterRecord, Upstream
from ml.monitor.capture import parse_line
from ml.monitor.project import run_project_monitor
from ml.monitor.window import window_from
from ml.names import VARIANT_NAME

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Model(BaseHTTPRequestHandler):
    """Answers like serve: CSV for CSV, JSON for JSON, bytes for anything else."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            answer, answer_type = b'{"predictions": ["setosa"]}', "application/json"
        elif kind.startswith("text/csv"):
            answer, answer_type = b"setosa\n" * body.count(b"\n"), "text/csv; charset=utf-8"
        elif kind.startswith("text/plain"):  # refused, as serve refuses a type it cannot read
            answer, answer_type = b"unsupported content type 'text/plain'\n", "text/plain; charset=utf-8"
            self.send_response(415)
        else:
            answer, answer_type = b"\x00\xffbin", "application/octet-stream"
        if not kind.startswith("text/plain"):
            self.send_response(200)
        self.send_header("Content-Type", answer_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def model_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _capture(tmp_path: Path, *, percent: int = 100) -> CaptureConf:
    return CaptureConf(root=tmp_path / "datacapture" / "ep", variant="AllTraffic", sampling_percent=percent)


@contextlib.contextmanager
def _router(tmp_path: Path, model_port: int, capture: CaptureConf) -> Iterator[RouterRecord]:
    """The endpoint's router with ``capture``, before the test's model; stopping it flushes and closes the logs."""
    with supervised_router(tmp_path, [Upstream(name="v1-x", port=model_port, weight=100)], capture=capture) as (_, record, _):
        yield record


def _post(record: RouterRecord, body: bytes, content_type: str, path: str = "/invocations") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", record.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _wait_records(capture: CaptureConf, count: int) -> None:
    """nginx logs a request after its response has gone: wait (up to 10 s) for ``count`` records."""
    deadline = time.monotonic() + 10
    while len(_records(capture)) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def _records(capture: CaptureConf) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(capture.root.rglob("*.jsonl")):
        found += [(path, json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    return found


def test_records_match_sagemaker_field_for_field_under_the_hourly_path(tmp_path: Path, model_port: int) -> None:
    capture = _capture(tmp_path)
    before = datetime.now(UTC).replace(microsecond=0)
    with _router(tmp_path, model_port, capture) as record:
        assert _post(record, b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", "text/csv")[0] == 200
        assert _post(record, b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', "application/json")[0] == 200
        assert _post(record, b"\x01\x02raw", "application/x-npy")[0] == 200
        _wait_records(capture, 3)
    after = datetime.now(UTC)
    records = _records(capture)
    assert len(records) == 3
    ids = []
    for path, line in records:
        assert list(line) == ["captureData", "eventMetadata", "eventVersion"]
        assert line["eventVersion"] == "0"
        meta = line["eventMetadata"]
        # SageMaker's two fields, then the local router's own: who answered, with which status.
        assert list(meta) == ["eventId", "inferenceTime", "byocVariant", "byocStatus"] and UUID.match(meta["eventId"])
        assert (meta["byocVariant"], meta["byocStatus"]) == ("v1-x", 200)
        ids.append(meta["eventId"])
        when = datetime.strptime(meta["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before <= when <= after
        # <root>/<endpoint>/<variant>/yyyy/mm/dd/hh/, the hour of the record's own time (UTC)
        assert path.parent == capture.root / "AllTraffic" / f"{when:%Y/%m/%d/%H}"
    assert len(set(ids)) == 3
    csv, as_json, raw = (line["captureData"] for _, line in records)
    assert csv == {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": "setosa\nsetosa\n",
            "encoding": "CSV",
        },
    }
    assert as_json == {
        "endpointInput": {
            "observedContentType": "application/json",
            "mode": "INPUT",
            "data": '{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
            "encoding": "JSON",
        },
        "endpointOutput": {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": '{"predictions": ["setosa"]}',
            "encoding": "JSON",
        },
    }
    # A content type SageMaker was not told to keep as text is base64, as SageMaker writes it.
    assert raw["endpointInput"]["encoding"] == raw["endpointOutput"]["encoding"] == "BASE64"
    assert base64.b64decode(raw["endpointInput"]["data"]) == b"\x01\x02raw"
    assert base64.b64decode(raw["endpointOutput"]["data"]) == b"\x00\xffbin"


def test_an_error_answer_is_recorded_with_its_status_and_read_as_an_error(tmp_path: Path, model_port: int) -> None:
    capture = _capture(tmp_path)
    with _router(tmp_path, model_port, capture) as record:
        assert _post(record, b"5.1,3.5", "text/plain")[0] == 415
        _wait_records(capture, 1)
    ((path, line),) = _records(capture)
    assert line["eventMetadata"]["byocStatus"] == 415 and line["eventMetadata"]["byocVariant"] == "v1-x"
    parsed = parse_line(path.read_text(encoding="utf-8"), where=str(path))
    assert parsed.error and parsed.predictions == [] and parsed.variant == "v1-x"


def test_only_invocations_are_captured(tmp_path: Path, model_port: int) -> None:
    capture = _capture(tmp_path)
    with _router(tmp_path, model_port, capture) as record:
        assert _post(record, b"1\n", "text/csv", path="/ping")[0] == 200
        assert _post(record, b"1\n", "text/csv", path="/other")[0] == 200
        assert _post(record, b"1\n", "text/csv")[0] == 200  # logged after the two before it
        _wait_records(capture, 1)
    assert [line["captureData"]["endpointInput"]["data"] for _, line in _records(capture)] == ["1\n"]


def test_sampling_keeps_about_the_configured_share(tmp_path: Path, model_port: int) -> None:
    capture = _capture(tmp_path, percent=5)
    with _router(tmp_path, model_port, capture) as record:
        statuses = {_post(record, b"1,2,3,4\n", "text/csv")[0] for _ in range(400)}
        time.sleep(1)  # the last requests' log lines
    assert statuses == {200}
    kept = len(_records(capture))
    # Binomial(400, 0.05): mean 20, sd 4.4; outside 2..60 has odds below one in 10^12.
    assert 2 <= kept <= 60, kept


def test_a_capture_that_cannot_be_written_costs_no_request(tmp_path: Path, model_port: int) -> None:
    capture = _capture(tmp_path)
    capture.root.mkdir(parents=True)
    (capture.root / "AllTraffic").write_text("a file where the variant's folder should be")
    with _router(tmp_path, model_port, capture) as record:
        answers = [_post(record, b"5.1,3.5,1.4,0.2\n", "text/csv") for _ in range(5)]
    assert answers == [(200, b"setosa\n")] * 5
    assert _records(capture) == []
    assert "byoc capture" in (tmp_path / "router" / "logs" / "front-error.log").read_text()


def test_a_deployed_endpoint_captures_and_the_monitor_reads_each_version_against_its_own_baseline(trained: Project) -> None:
    """The local backend's endpoint writes under the local data lake; each record names the version that
    answered it, so traffic before and after a blue/green update is compared with each version's baseline."""
    trained.backend.deploy_endpoint(endpoint_name="captured", version=1)
    try:
        rows = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n"
        for _ in range(30):
            assert trained.backend.invoke(endpoint_name="captured", body=rows).status_code == 200
        assert trained.backend.invoke(endpoint_name="captured", body=b"1,2\n").status_code == 400  # wrong feature count
        trained.backend.update_endpoint(endpoint_name="captured", version=2)
        for _ in range(20):
            assert trained.backend.invoke(endpoint_name="captured", body=rows).status_code == 200
        config = trained.backend.config
        hour = trained.root / config.local_state_dir / config.capture_prefix / "captured" / VARIANT_NAME
        assert len(list(hour.rglob("*.jsonl"))) >= 1
        outcome = run_project_monitor(
            config=config, root=trained.root, backend="local", endpoint="captured", window=window_from(hours=1, default_hours=1)
        )
    finally:
        trained.backend.teardown(endpoint_name="captured")
    first, second = outcome.report.variants
    assert (first.variant, first.version, first.records, first.error_records, first.rows) == ("AllTraffic", 1, 31, 1, 90)
    assert (second.version, second.records, second.error_records, second.rows) == (2, 20, 0, 60)
    assert first.baseline != second.baseline and outcome.report.unattributed == ()
    assert outcome.html.exists()


@pytest.mark.slow
def test_an_endpoint_deployed_with_a_sampling_percent_captures_that_share(trained: Project) -> None:
    """The endpoint's own setting (capture_sampling_percent from its configuration), not a hand-built router's."""
    backend = make_backend(trained.root, trained.programs, capture_sampling_percent=20)
    backend.deploy_endpoint(endpoint_name="sampled", version=1)
    try:
        assert backend.store.get("endpoints", "sampled")["settings"]["capture"]["sampling_percent"] == 20  # type: ignore[index]
        statuses = {backend.invoke(endpoint_name="sampled", body=b"5.1,3.5,1.4,0.2\n").status_code for _ in range(300)}
        time.sleep(1)  # the last requests' log lines
    finally:
        backend.teardown(endpoint_name="sampled")
    assert statuses == {200}
    config = backend.config
    root = trained.root / config.local_state_dir / config.capture_prefix / "sampled"
    kept = len(_records(CaptureConf(root=root, variant=VARIANT_NAME, sampling_percent=20)))
    # Binomial(300, 0.2): mean 60, sd 6.9; outside 25..100 has odds below one in 10^6. All 300 is capture at 100%.
    assert 25 <= kept <= 100, kept
