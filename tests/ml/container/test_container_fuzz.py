"""Thousands of generated bodies against a live server: no 5xx, and the server stays up."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

from container_helpers import Server, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONTENT_TYPES = st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8", "text/plain", "", "application/x-npy"])
ACCEPTS = st.sampled_from([None, "*/*", "text/csv", "application/json", "image/png", "text/*;q=0", ",,;q=abc"])
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["", " ", "nan", "-inf", "1e999", "0x10", "1_0", '"1"', "\t2", "١"]),
    st.text(max_size=8),
)
CSV_BODIES = st.lists(st.lists(CELLS, max_size=7).map(",".join), max_size=12).map(lambda rows: "\n".join(rows).encode())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from(["instances", "x"]), inner, max_size=2),
    max_leaves=30,
)
JSON_BODIES = JSON_VALUES.map(lambda v: json.dumps(v).encode())
NUMBER_ROWS = st.lists(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr), min_size=3, max_size=5).map(",".join),
    min_size=1,
    max_size=8,
)


def _past_4kb(rows: list[str], noise: str, newline: str) -> bytes:
    """Rows repeated past 4 KB (the fast parser's threshold), with one generated cell spliced in."""
    body = newline.join(rows)
    repeated = (body + newline) * (4200 // (len(body) + 1) + 1)
    middle = len(repeated) // 2
    return (repeated[:middle] + noise + repeated[middle:]).encode()


# Over 4 KB, the codec takes its vectorised path: fuzz that one too, not only the per-value one.
BIG_CSV_BODIES = st.builds(_past_4kb, NUMBER_ROWS, st.one_of(st.just(""), CELLS), st.sampled_from(["\n", "\r\n"]))
BODIES = st.one_of(CSV_BODIES, BIG_CSV_BODIES, JSON_BODIES, st.binary(max_size=200))


def _post(url: str, body: bytes, content_type: str, accept: str | None) -> int:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        headers = {"Content-Type": content_type} | ({"Accept": accept} if accept is not None else {})
        connection.request("POST", "/invocations", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@settings(
    max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=BODIES, content_type=CONTENT_TYPES, accept=ACCEPTS)
def test_generated_bodies_never_get_5xx(session_server: Server, body: bytes, content_type: str, accept: str | None) -> None:
    status = _post(session_server.url, body, content_type, accept)
    assert status in (200, 400, 406, 415), (status, body[:200], content_type, accept)


def test_big_bodies_are_generated() -> None:
    assert len(_past_4kb(["1,2,3,4"], "", "\n")) > 4096


def test_server_survives_the_fuzzing(session_server: Server) -> None:
    # Runs after the fuzz test in file order; the workers must still answer.
    assert session_server.alive()
    assert request(f"{session_server.url}/ping").status == 200
