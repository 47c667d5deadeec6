"""Timestamps in moto's JSON-protocol answers, as numbers, the form the protocol prescribes.

moto 5.2 writes some timestamps as ISO 8601 strings (CodeCommit's ``creationDate``, CodePipeline's
``metadata.created``). In the AWS JSON 1.0/1.1 protocols a ``timestamp`` member is sent as epoch
seconds, a JSON number (Smithy's AWS JSON 1.1 protocol: "timestamp ... epoch-seconds" is the
default format). boto3 accepts either, so the code rehearsal never noticed; the Terraform
provider's Go SDK refuses a string ("expected CreationDate to be a JSON Number, got string
instead"). Every JSON answer the front returns is walked along botocore's output shape for the
operation, and a string where the model says ``timestamp`` becomes epoch seconds.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any


@cache
def _operations() -> dict[str, Any]:
    """``X-Amz-Target`` -> botocore operation model, for every JSON-protocol service botocore knows."""
    import botocore.session

    session = botocore.session.get_session()
    found: dict[str, Any] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        prefix = model.metadata.get("targetPrefix")
        protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
        if not prefix or "json" not in protocols:  # services that also speak CBOR still speak JSON
            continue
        for name in model.operation_names:
            found[f"{prefix}.{name}"] = model.operation_model(name)
    return found


def _epoch(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return value  # not a date at all: leave it for the client to refuse


def _walk(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        return _epoch(value)
    if kind == "structure" and isinstance(value, dict):
        return {k: _walk(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_walk(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _walk(v, shape.value) for k, v in value.items()}
    return value


def with_numeric_timestamps(target: str, body: bytes) -> bytes:
    """``body`` (a successful JSON answer to ``target``) with its timestamp strings as numbers."""
    operation = _operations().get(target)
    if operation is None or operation.output_shape is None or not body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    fixed = _walk(data, operation.output_shape)
    return body if fixed == data else json.dumps(fixed).encode("utf-8")
