"""Lineage in a model package's ``CustomerMetadataProperties``, within what the API accepts.

The API allows at most 50 entries; keys of 1-128 and values of 1-256 characters, both matching
``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``. JSON (braces, quotes, commas) is refused, so each
hyperparameter and metric gets its own key (``hp.<name>``, ``metric.<name>``), and every key and
value is escaped: a character outside a conservative ASCII subset of that class becomes ``=HH``
per UTF-8 byte (``=`` itself too), as in quoted-printable. Decoding reverses it exactly.

An entry that cannot fit (too long once escaped, or past the 50th) is left out and counted under
``omitted``; the training job named under ``training_job`` always holds the complete record.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from ml.errors import UserInputError

MAX_ENTRIES = 50
MAX_KEY = 128
MAX_VALUE = 256
HP_PREFIX = "hp."
METRIC_PREFIX = "metric."
OMITTED = "omitted"
REPORT = "report"  # the training report's URI, added after registration (ml/reports/aws.py)
# Keys written after registration: registration leaves room for them under MAX_ENTRIES.
RESERVED_KEYS = (REPORT,)
_SAFE = frozenset(string.ascii_letters + string.digits + " _.:/+-@")
_ESCAPED = re.compile(r"(?:=[0-9A-F]{2})+")


def encode(text: str) -> str:
    """Escape ``text`` into the metadata alphabet; :func:`decode` gives it back."""
    return "".join(ch if ch in _SAFE else "".join(f"={b:02X}" for b in ch.encode("utf-8")) for ch in text)


def decode(text: str) -> str:
    return _ESCAPED.sub(lambda m: bytes.fromhex(m.group(0).replace("=", "")).decode("utf-8", errors="replace"), text)


def encode_properties(fields: Mapping[str, str], *, hyperparameters: Mapping[str, str], metrics: Mapping[str, float]) -> dict[str, str]:
    """The CustomerMetadataProperties for one version: fixed fields, then metrics, then hyperparameters."""
    wanted = [(name, value) for name, value in fields.items()]
    wanted += [(METRIC_PREFIX + name, f"{value:g}") for name, value in sorted(metrics.items())]
    wanted += [(HP_PREFIX + name, value) for name, value in sorted(hyperparameters.items())]
    props: dict[str, str] = {}
    omitted = 0
    for name, value in wanted:
        key, encoded = encode(name), encode(value)
        if not value:
            continue  # values must be at least one character; an empty one says nothing
        if len(key) > MAX_KEY or len(encoded) > MAX_VALUE or len(props) >= MAX_ENTRIES - 1 - len(RESERVED_KEYS):
            omitted += 1
            continue
        props[key] = encoded
    if omitted:
        props[OMITTED] = str(omitted)
    return props


def with_property(props: Mapping[str, str], name: str, value: str, *, owner: str) -> dict[str, str]:
    """``props`` plus one entry (escaped); a clear error, before any call, if that passes the API's 50."""
    updated = {**props, encode(name): encode(value)}
    if len(updated) > MAX_ENTRIES:
        raise UserInputError(
            f"{owner} already has {len(props)} CustomerMetadataProperties, SageMaker's limit is {MAX_ENTRIES}, so {name!r} "
            "cannot be added; remove some (UpdateModelPackage with CustomerMetadataPropertiesToRemove) or register the "
            "version again (registration leaves room for it)"
        )
    if len(encode(value)) > MAX_VALUE:
        raise UserInputError(f"{name!r} of {owner} is longer than SageMaker's {MAX_VALUE} characters once escaped: {value[:80]}...")
    return updated


def decode_properties(props: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, float]]:
    """(lineage, metrics) from stored properties; lineage holds ``hyperparameters`` as a dict."""
    lineage: dict[str, Any] = {}
    hyperparameters: dict[str, str] = {}
    metrics: dict[str, float] = {}
    for raw_key, raw_value in props.items():
        key, value = decode(raw_key), decode(raw_value)
        if key.startswith(METRIC_PREFIX):
            metrics[key.removeprefix(METRIC_PREFIX)] = float(value)
        elif key.startswith(HP_PREFIX):
            hyperparameters[key.removeprefix(HP_PREFIX)] = value
        else:
            lineage[key] = value
    lineage["hyperparameters"] = hyperparameters
    return lineage, metrics
