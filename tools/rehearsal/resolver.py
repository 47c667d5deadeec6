"""Resolve the Terraform interpolations in the synthesized JSON, for exactly the forms we use.

The CodeBuild projects' variables hold ``${aws_s3_bucket.x.bucket}``,
``${data.terraform_remote_state.<input>.outputs.<output>}`` (cross-stack) and
``${jsonencode({"k" = <expr>, ...})}`` whose values are references, quoted strings or lists of
them. Those are resolved here against the resources the rehearsal made in the fake AWS; any
other form fails loudly, so a new kind of expression in the stacks cannot slip through as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ml.errors import ByocError

REFERENCE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+")
_WHOLE = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
_JSONENCODE = re.compile(r"^jsonencode\((.*)\)$", re.DOTALL)

# (resource type, name, attribute) -> value
AttributeLookup = Callable[[str, str, str], Any]
# (remote state input name, output name) -> value
RemoteLookup = Callable[[str, str], Any]


class ResolveError(ByocError):
    """An expression the resolver does not support, or a reference it cannot resolve."""


class _Parser:
    """A recursive-descent parser for HCL values: "string", reference, [list], {"k" = value}."""

    def __init__(self, text: str, resolve_reference: Callable[[str], Any]) -> None:
        self.text, self.pos, self._ref = text, 0, resolve_reference

    def fail(self, what: str) -> ResolveError:
        return ResolveError(f"unsupported Terraform expression at offset {self.pos} ({what}): {self.text!r}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def value(self) -> Any:
        self.skip()
        char = self.text[self.pos : self.pos + 1]
        if char == '"':
            return self.string()
        if char == "[":
            return self.sequence()
        if char == "{":
            return self.mapping()
        match = REFERENCE.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a string, list, object or reference")
        self.pos = match.end()
        return self._ref(match.group(0))

    def string(self) -> str:
        decoder = json.JSONDecoder()
        try:
            value, end = decoder.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as err:
            raise self.fail(f"bad string: {err}") from err
        self.pos = end
        return str(value)

    def sequence(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        self.skip()
        while not self.text.startswith("]", self.pos):
            items.append(self.value())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                self.skip()
        self.pos += 1
        return items

    def mapping(self) -> dict[str, Any]:
        self.expect("{")
        result: dict[str, Any] = {}
        self.skip()
        while not self.text.startswith("}", self.pos):
            key = self.string()
            self.expect("=")
            result[key] = self.value()
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                self.skip()
        self.pos += 1
        return result

    def done(self) -> None:
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("trailing text")


class Resolver:
    """Resolves values of one stack: its own resources, and other stacks' outputs via remote state."""

    def __init__(self, *, attribute: AttributeLookup, remote: RemoteLookup) -> None:
        self._attribute, self._remote = attribute, remote

    def reference(self, text: str) -> Any:
        parts = text.split(".")
        if parts[:2] == ["data", "terraform_remote_state"] and len(parts) == 5 and parts[3] == "outputs":
            return self._remote(parts[2], parts[4])
        if parts[0] == "data" or len(parts) != 3:
            raise ResolveError(f"unsupported reference {text!r}: only <type>.<name>.<attribute> and remote-state outputs are resolved")
        return self._attribute(parts[0], parts[1], parts[2])

    def value(self, raw: Any) -> Any:
        """A JSON value from the synthesized file, with every interpolation resolved."""
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, Mapping):
            return {key: self.value(item) for key, item in raw.items()}
        if not isinstance(raw, str) or "${" not in raw:
            return raw
        whole = _WHOLE.match(raw)
        if whole is None or "${" in whole.group(1):
            raise ResolveError(f"unsupported template {raw!r}: only a whole-string ${{...}} is resolved")
        inner = whole.group(1).strip()
        encoded = _JSONENCODE.match(inner)
        parser = _Parser(encoded.group(1) if encoded else inner, self.reference)
        result = parser.value()
        parser.done()
        return json.dumps(result, separators=(",", ":")) if encoded else result

    def string(self, raw: Any) -> str:
        value = self.value(raw)
        if not isinstance(value, str):
            raise ResolveError(f"expected {raw!r} to resolve to a string, got {value!r}")
        return value
