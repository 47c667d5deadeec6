"""Request decoding and response encoding: the serving hot path.

No pandas and no scikit-learn validation here: a CSV body's line structure is checked on its
bytes and every number is parsed by numpy in one C call, with no Python object per value (see
:func:`_fast_csv`). Anything that path does not accept goes to the per-value path, and only when
that fails too does a slow, careful pass find which line and column is wrong so the 400 says so.
Every rejected input raises :class:`~byoc.errors.RequestError` with its HTTP status.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from byoc import decimals
from byoc.algorithm import Features
from byoc.errors import RequestError

CSV = "text/csv"
JSON = "application/json"
SUPPORTED = (CSV, JSON)
_WILDCARDS = {"*/*": None, "text/*": CSV, "application/*": JSON}


def media_type(header: str | None) -> str:
    """``"text/csv; charset=utf-8"`` → ``"text/csv"``."""
    return (header or "").split(";", 1)[0].strip().lower()


def negotiate(accept: str | None, content_type: str) -> str:
    """The response type for an ``Accept`` header; absent or ``*/*`` answers in the request's type."""
    if not accept or not accept.strip():
        return content_type
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = part.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        choices.append((-quality, index, media.strip().lower()))
    for negative_q, _, media in sorted(choices):
        if negative_q >= 0:
            continue
        if media in SUPPORTED:
            return media
        if media in _WILDCARDS:
            return _WILDCARDS[media] or content_type
    raise RequestError(406, f"cannot answer in {accept!r}; Accept {CSV} or {JSON}")


def _csv_problem(lines: list[str], n_features: int) -> str:
    """Find the first bad line of a CSV body and describe it (the slow path, on failure only)."""
    widths = [len(line.split(",")) for line in lines]
    for number, (line, width) in enumerate(zip(lines, widths, strict=True), start=1):
        if not line.strip():
            return f"line {number} is empty; send one row of {n_features} numbers per line"
        if width != n_features:
            if len(set(widths)) > 1:
                return f"ragged rows: line {number} has {width} values while line 1 has {widths[0]}; expected {n_features} features"
            return f"wrong feature count: expected {n_features} features, got {width} (line {number})"
        for column, cell in enumerate(line.split(","), start=1):
            try:
                value = float(cell)
            except ValueError:
                return f"line {number} column {column}: {cell.strip()[:40]!r} is not a number"
            if not math.isfinite(value):
                return f"line {number} column {column}: {cell.strip()!r} is not allowed; send finite numbers (no NaN or infinity)"
    return "malformed CSV"


_NEWLINE, _COMMA = ord("\n"), ord(",")
# Below this size the per-value path is quicker: the array passes cost ~150 µs of fixed overhead
# here, more than splitting a few hundred values (measured crossover ~250 iris rows).
_VECTOR_MIN_BYTES = 4096
_VECTOR_MIN_ROWS = 64  # fewer labels are as quick to format one by one
_ASCII_MAX = 127


def _one_row_per_line(text: bytes, rows: int, n_features: int) -> bool:
    """Every line holds exactly ``n_features - 1`` commas (``text`` holds that many per row in all)."""
    if rows == 1:
        return True
    # The separators, in order, must be n_features - 1 commas then a newline, line after line.
    # Boolean indexing keeps this to byte-sized temporaries, no int64 positions, for 6 MB.
    raw = np.frombuffer(text, dtype=np.uint8)
    line_ends = raw[(raw == _COMMA) | (raw == _NEWLINE)][n_features - 1 :: n_features]
    return len(line_ends) == rows - 1 and bool((line_ends == _NEWLINE).all())


def _numbers(text: bytes) -> NDArray[np.float64] | None:
    """Every comma- or newline-separated number in ``text``, in one C call; ``None`` on anything else."""
    flat = decimals.parse(text)
    if flat is not None:
        return flat
    with warnings.catch_warnings():
        # Older numpy warns (DeprecationWarning) and returns what it read so far on unparsable
        # text; newer numpy raises. Either way the caller's element count decides.
        warnings.simplefilter("error")
        try:
            return np.fromstring(text.replace(b"\n", b","), dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning):
            return None


def _fast_csv(body: bytes, n_features: int) -> Features | None:
    """Parse a well-formed body with no Python object per value; ``None`` sends it to the careful path.

    Plain decimals take the vectorised parser, other number forms (exponents, spaces) one
    ``np.fromstring`` call. Both accept a subset of what the per-value path accepts (no
    ``1_000``), so whatever they refuse (CRLF oddities, blank lines, NaN, text) is decided, and
    worded, by that path exactly as before.
    """
    text = body.rstrip()  # trailing blank lines and whitespace are not rows, as on the careful path
    rows = text.count(b"\n") + 1
    if not text or text.count(b",") != rows * (n_features - 1) or not _one_row_per_line(text, rows, n_features):
        return None
    flat = _numbers(text)
    if flat is None or flat.size != rows * n_features or not np.isfinite(flat).all():
        return None
    return flat.reshape(rows, n_features)


def decode_csv(body: bytes, n_features: int) -> Features:
    """Rows of ``n_features`` comma-separated numbers, one per line, no header."""
    if len(body) >= _VECTOR_MIN_BYTES:
        fast = _fast_csv(body, n_features)
        if fast is not None:
            return fast
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "body is not UTF-8 text") from None
    # Split on "\n" only, as batch transform's SplitType=Line does; str.splitlines would also
    # split on form feeds and Unicode separators and break the one-answer-per-line promise.
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise RequestError(400, "empty body; send CSV rows of numbers")
    commas = n_features - 1
    if all(line.count(",") == commas for line in lines):
        try:
            flat = np.array(",".join(lines).split(","), dtype=np.float64)
        except ValueError:
            flat = None
        if flat is not None and np.isfinite(flat).all():
            return flat.reshape(len(lines), n_features)
    raise RequestError(400, _csv_problem(lines, n_features))


def _json_rows(document: Any) -> list[Any]:
    if isinstance(document, dict):
        if "instances" not in document:
            raise RequestError(400, 'JSON object must have an "instances" list of rows')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise RequestError(400, "JSON must be a non-empty list of rows (or one row of numbers)")
    rows: list[Any] = document if isinstance(document[0], list) else [document]
    return rows


def decode_json(body: bytes, n_features: int) -> Features:
    """``[[f1, ...], ...]``, one row ``[f1, ...]``, or ``{"instances": [[...], ...]}``."""
    if not body.strip():
        raise RequestError(400, "empty body; send a JSON list of rows")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise RequestError(400, "malformed JSON") from None
    rows = _json_rows(document)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise RequestError(400, f"row {number} is not a list of numbers")
        if len(row) != n_features:
            raise RequestError(400, f"wrong feature count: expected {n_features} features, got {len(row)} (row {number})")
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RequestError(400, f"row {number}: {str(value)[:40]!r} is not a number")
    try:
        features = np.array(rows, dtype=np.float64)
    except OverflowError:
        raise RequestError(400, "a value is too large; send finite numbers") from None
    if not np.isfinite(features).all():
        raise RequestError(400, "NaN or infinity is not allowed; send finite numbers")
    return features


def decode(body: bytes, content_type: str, n_features: int) -> Features:
    """Decode a request body of a supported type into a finite ``(rows, n_features)`` array."""
    if content_type == CSV:
        return decode_csv(body, n_features)
    if content_type == JSON:
        return decode_json(body, n_features)
    raise RequestError(415, f"unsupported content type {content_type or '(none)'!r}; send {CSV} or {JSON}")


def encode(predictions: NDArray[Any], accept: str) -> bytes:
    """One prediction per input row: CSV lines in order, or ``{"predictions": [...]}``."""
    if accept == CSV:
        fast = _ascii_lines(predictions)
        if fast is not None:
            return fast
    values = predictions.tolist()
    if accept == JSON:
        return json.dumps({"predictions": values}).encode()
    return ("\n".join(map(str, values)) + "\n").encode()


def _ascii_lines(predictions: NDArray[Any]) -> bytes | None:
    """Class labels (a numpy string array) as CSV lines in array passes, or ``None`` for other data.

    A batch's labels would otherwise become one Python ``str`` each (~130 ns a row, as long as
    predicting). numpy stores each label as ``width`` UCS-4 code points padded with NULs; ASCII
    code points are their own bytes, so the lines are those code points narrowed to bytes with a
    newline after each, the padding dropped. Identical to ``str(label)`` per line: a label
    with a NUL inside would lose it, so such a batch (and any non-ASCII one) takes the general path.
    """
    if predictions.dtype.kind != "U" or predictions.ndim != 1 or predictions.size < _VECTOR_MIN_ROWS:
        return None
    width = predictions.dtype.itemsize // 4
    codes = np.ascontiguousarray(predictions).view(np.uint32).reshape(predictions.size, width)
    if width == 0 or codes.max() > _ASCII_MAX:
        return None
    lines = np.empty((predictions.size, width + 1), dtype=np.uint8)
    lines[:, :width] = codes
    lines[:, width] = _NEWLINE
    keep = lines != 0
    if np.count_nonzero(keep) != int(np.strings.str_len(predictions).sum()) + predictions.size:
        return None  # a NUL inside a label
    encoded: bytes = lines[keep].tobytes()
    return encoded
