"""Check each AWS request against its operation's input shape, as AWS does on its side.

botocore checks only types, required members and some minimums; moto checks less. AWS also
enforces each member's ``pattern`` (a Java regular expression that must match the whole value),
length limits of strings, blobs, lists and maps, numeric ranges and enums, and answers a
violation with a ValidationException, on the real account, after the code has shipped. This
module applies those rules from botocore's own service model before the request leaves:

- :func:`check_request` lists every :class:`Violation` of one request;
- :func:`install` registers it on a client's ``before-parameter-build`` event (after our code
  built the parameters), raising :class:`RequestValidationError`, a botocore
  ``ParamValidationError``, so callers see it exactly as they see botocore's own checks;
- :func:`install_on_every_client` does that for every client made afterwards in the process.

This module imports nothing of the project's (only botocore and ``regex``), so the start-up hook
in ``strict_site/`` can load it by path into any process (tools/awscheck/strict.py).

Java patterns are compiled with the ``regex`` module (``\\p{L}``, ``\\p{Z}``, ``\\p{N}``); Java's
UTF-16 surrogate-pair ranges are rewritten to the code points they denote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regex
from botocore.exceptions import ParamValidationError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape

_NUMERIC = ("integer", "long", "float", "double")
# Java spells "any supplementary character" as a pair of surrogate ranges; Python has code points.
_SURROGATE_RANGES = regex.compile(r"\\uD800\\uDC00-\\uDBFF\\uDFFF", regex.IGNORECASE)
_SUPPLEMENTARY = r"\U00010000-\U0010FFFF"


@dataclass(frozen=True, kw_only=True)
class Violation:
    """One broken rule: which operation, which parameter (a dotted path), which rule."""

    operation: str
    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.operation}: parameter {self.path} {self.rule}"


class RequestValidationError(ParamValidationError):  # type: ignore[misc]  # botocore is untyped
    """A request AWS would refuse with a ValidationException."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__(report="\n".join(str(v) for v in violations))


@functools.lru_cache(maxsize=2048)
def compiled(pattern: str) -> regex.Pattern[str]:
    """An AWS (Java) pattern as a full-match regular expression."""
    java = _SURROGATE_RANGES.sub(lambda _m: _SUPPLEMENTARY, pattern)
    return regex.compile(f"(?:{java})")


def _java_length(value: str) -> int:
    """String length as AWS counts it (UTF-16 code units, Java's String.length())."""
    return len(value.encode("utf-16-le")) // 2


def _limits(shape: Shape, size: int, what: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    found = []
    if low is not None and size < low:
        found.append(f"has {what} {size}, below the minimum {low}")
    if high is not None and size > high:
        found.append(f"has {what} {size}, above the maximum {high}")
    return found


def _scalar_rules(shape: Shape, value: Any) -> list[str]:
    kind = shape.type_name
    if kind == "string" and isinstance(value, str):
        found = _limits(shape, _java_length(value), "length")
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum and value not in enum:
            found.append(f"is {value!r}, not one of the enum {enum}")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and compiled(pattern).fullmatch(value) is None:
            found.append(f"is {value!r}, which does not match the pattern {pattern!r}")
        return found
    if kind == "blob" and isinstance(value, (bytes, bytearray, str)):
        size = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
        return _limits(shape, size, "size in bytes")
    if kind in _NUMERIC and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"is {value}, outside the range {low if low is not None else '-inf'}..{high if high is not None else 'inf'}"]
    return []


def _walk(shape: Shape, value: Any, path: str, report: Callable[[str, str], None]) -> None:
    # Wrong types are botocore's to report; this walk only looks at values of the right type.
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _walk(member, value[name], f"{path}.{name}" if path else name, report)
    elif isinstance(shape, ListShape) and isinstance(value, (list, tuple)):
        for rule in _limits(shape, len(value), "length"):
            report(path, rule)
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", report)
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for rule in _limits(shape, len(value), "size"):
            report(path, rule)
        for key, item in value.items():
            _walk(shape.key, key, f"{path} key {key!r}", report)
            _walk(shape.value, item, f"{path}[{key!r}]", report)
    else:
        for rule in _scalar_rules(shape, value):
            report(path, rule)


def check_request(operation: OperationModel, params: Mapping[str, Any]) -> list[Violation]:
    """Every rule of ``operation``'s input shape that ``params`` breaks; empty when AWS would accept it."""
    found: list[Violation] = []
    if operation.input_shape is not None:
        _walk(operation.input_shape, params, "", lambda path, rule: found.append(Violation(operation=operation.name, path=path, rule=rule)))
    return found


def install(client: Any, *, record: Callable[[list[Violation]], None] | None = None) -> None:
    """Check every request ``client`` sends; raise :class:`RequestValidationError` on a violation.

    ``record`` also receives each batch of violations, so a test can fail even when the code
    under test swallowed the error.
    """

    def check(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
        violations = check_request(model, params)
        if violations:
            if record is not None:
                record(violations)
            raise RequestValidationError(violations)

    # One check per client and recorder, however many times the client is handed over.
    unique = "byoc-strict-requests" if record is None else f"byoc-strict-requests-{id(record)}"
    client.meta.events.register("before-parameter-build", check, unique_id=unique)


_PATCHED = "_byoc_strict_requests"


def install_on_every_client(*, record: Callable[[list[Violation]], None] | None = None) -> Callable[[], None]:
    """Every botocore client made from now on checks its requests; returns the function that undoes it."""
    from botocore.client import ClientCreator

    original = ClientCreator.create_client
    if getattr(original, _PATCHED, False):
        return lambda: None

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        install(client, record=record)
        return client

    setattr(create_client, _PATCHED, True)
    ClientCreator.create_client = create_client

    def undo() -> None:
        ClientCreator.create_client = original

    return undo
