"""The one resolver of the Terraform interpolations in the synthesized JSON, for exactly the forms we use.

The stacks hold ``${aws_s3_bucket.x.bucket}``, ``${data.terraform_remote_state.<input>.outputs.<output>}``
(cross-stack), ``${data.aws_caller_identity.x.account_id}``-style data sources, and
``${jsonencode({"k" = <expr>, ...})}`` whose values are references, quoted strings or lists of them;
policy documents also embed references in longer strings (``arn:...:${aws_s3_bucket.x.bucket}/*``).

Two tools resolve them, each with its own idea of what a resource's attribute is: the CodeBuild
rehearsal (the resources it made in the fake AWS, :mod:`tools.rehearsal.world`) and the AWS checks
(names predicted from the configuration, :mod:`tools.awscheck.synthesis`). They share this parser
and the cross-stack rule; any other form fails loudly, so a new kind of expression in the stacks
cannot slip through as text.
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
_EMBEDDED = re.compile(r"\$\{([^}]*)\}")
# cdktn's name for the terraform_remote_state data source through which one stack reads another's outputs.
REMOTE_INPUT_PREFIX = "cross-stack-reference-input-"

# (resource type, name, attribute) -> value
AttributeLookup = Callable[[str, str, str], Any]
# (remote state input name, output name) -> value
RemoteLookup = Callable[[str, str], Any]
# (data source type, name, attribute path) -> value
DataLookup = Callable[[str, str, tuple[str, ...]], Any]


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
    """Resolves values of one stack: its own resources, and other stacks' outputs via remote state.

    ``data`` resolves data sources other than remote state (refused when not given); ``templates``
    allows references embedded in a longer string, each replaced by its value as text (refused
    when false: a CodeBuild variable is always one whole expression).
    """

    def __init__(
        self, *, attribute: AttributeLookup, remote: RemoteLookup, data: DataLookup | None = None, templates: bool = False
    ) -> None:
        self._attribute, self._remote, self._data, self._templates = attribute, remote, data, templates

    def reference(self, text: str) -> Any:
        parts = text.split(".")
        if parts[:2] == ["data", "terraform_remote_state"] and len(parts) == 5 and parts[3] == "outputs":
            return self._remote(parts[2], parts[4])
        if parts[0] == "data" and self._data is not None and len(parts) >= 4:
            return self._data(parts[1], parts[2], tuple(parts[3:]))
        if parts[0] == "data" or len(parts) != 3:
            forms = "<type>.<name>.<attribute>" + (", data sources" if self._data is not None else "")
            raise ResolveError(f"unsupported reference {text!r}: only {forms} and remote-state outputs are resolved")
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
            return self._template(raw)
        inner = whole.group(1).strip()
        encoded = _JSONENCODE.match(inner)
        parser = _Parser(encoded.group(1) if encoded else inner, self.reference)
        result = parser.value()
        parser.done()
        return json.dumps(result, separators=(",", ":")) if encoded else result

    def _template(self, raw: str) -> str:
        if not self._templates:
            raise ResolveError(f"unsupported template {raw!r}: only a whole-string ${{...}} is resolved")

        def one(match: re.Match[str]) -> str:
            text = match.group(1).strip()
            if not REFERENCE.fullmatch(text):
                raise ResolveError(f"unsupported template {raw!r}: only references are resolved inside a string, not {text!r}")
            return str(self.reference(text))

        return _EMBEDDED.sub(one, raw)

    def string(self, raw: Any) -> str:
        value = self.value(raw)
        if not isinstance(value, str):
            raise ResolveError(f"expected {raw!r} to resolve to a string, got {value!r}")
        return value


def remote_output(stacks: Mapping[str, Mapping[str, Any]], *, stack: str, input_name: str, output: str) -> tuple[str, Any]:
    """``(source stack, raw value)`` of the output that ``stack`` reads through remote state ``input_name``.

    The raw value is the source stack's synthesized output expression: resolve it in that stack.
    """
    if input_name not in stacks[stack].get("data", {}).get("terraform_remote_state", {}):
        raise ResolveError(f"{stack} reads remote state {input_name!r} but declares no such data source")
    source = input_name.removeprefix(REMOTE_INPUT_PREFIX)
    if not input_name.startswith(REMOTE_INPUT_PREFIX) or source not in stacks:
        raise ResolveError(f"remote state {input_name!r} of {stack} names no synthesized stack (known: {', '.join(stacks)})")
    outputs = stacks[source].get("output", {})
    if output not in outputs:
        raise ResolveError(f"{source} has no output {output!r}, which {stack} reads")
    return source, outputs[output]["value"]
