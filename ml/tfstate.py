"""Stack outputs from the environment or Terraform state (format version 4); no name is typed twice.

The infrastructure stacks publish every name the lifecycle needs (buckets, role ARN, ECR
repository, model package group, alarms) as Terraform outputs. Where one stack's outputs come
from, first match wins:

1. ``BYOC_OUTPUTS_<STACK>`` (for example ``BYOC_OUTPUTS_TRAINPIPELINESTACK``): a JSON object
   ``{output: value}`` that Terraform encodes from the same values as the outputs and sets on
   each CodeBuild project, because local state files are not reachable from CodeBuild;
2. the configured state backend: a local file per stack or an object in the S3 backend, both
   holding the same JSON document. Reading state directly avoids needing the ``terraform``
   binary at run time.

A CodeBuild project carries only the stacks it needs (build: Build; train: Build and Train;
deploy: all three), so a stack found nowhere fails only when one of its outputs is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.config import ProjectConfig
from ml.errors import AwsError, NotFoundError, StateError
from ml.names import NOTIFICATION_OUTPUTS, STACKS, Output, Stack, local_state_path, outputs_variable

# The outputs the SageMaker backend reads, by the stack that declares them (StackOutputs' fields).
REQUIRED_OUTPUTS: dict[Stack, tuple[Output, ...]] = {
    Stack.BUILD: (
        Output.ECR_REPOSITORY_URL,
        Output.ECR_REPOSITORY_NAME,
        Output.ECR_REPOSITORY_ARN,
        Output.BUILD_REPO_CLONE_URL_HTTP,
        Output.BUILD_PIPELINE_NAME,
    ),
    Stack.TRAIN: (
        Output.DATALAKE_BUCKET,
        Output.DATALAKE_KEY_ARN,
        Output.SAGEMAKER_ROLE_ARN,
        Output.MODEL_PACKAGE_GROUP,
        Output.TRAIN_REPO_CLONE_URL_HTTP,
        Output.TRAIN_PIPELINE_NAME,
        Output.ARTIFACT_BUCKET,
    ),
    Stack.DEPLOY: (
        Output.APPROVAL_TOPIC_ARN,
        Output.DEPLOY_REPO_CLONE_URL_HTTP,
        Output.DEPLOY_PIPELINE_NAME,
        Output.ENDPOINT_NAME,
        Output.ALARM_NAMES,
    ),
}
SUPPORTED_STATE_VERSION = 4


def _deploy_hint(stack: str) -> str:
    return f"deploy it with `cdktf deploy {stack}`"


def parse_state(text: str, *, stack: str, source: str) -> dict[str, Any]:
    """The output values of one stack's state document (``{name: value}``)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise StateError(f"Terraform state of {stack} at {source} is not valid JSON ({err})") from err
    if not isinstance(document, dict):
        raise StateError(f"Terraform state of {stack} at {source} is not a JSON object")
    version = document.get("version")
    if version != SUPPORTED_STATE_VERSION:
        raise StateError(
            f"Terraform state of {stack} at {source} has format version {version!r}; only version 4 "
            "(Terraform 0.12 and later) is supported; re-run `cdktf deploy` with a current Terraform"
        )
    outputs = document.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise StateError(f"Terraform state of {stack} at {source} has a malformed 'outputs' block")
    values: dict[str, Any] = {}
    for name, entry in outputs.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise StateError(f"Terraform state of {stack} at {source}: output {name!r} has no value")
        values[str(name)] = entry["value"]
    return values


def sensitive_outputs(text: str) -> set[str]:
    """Names of outputs marked sensitive, so tables never print their values."""
    try:
        outputs = json.loads(text).get("outputs") or {}
    except (json.JSONDecodeError, AttributeError):
        return set()
    return {name for name, entry in outputs.items() if isinstance(entry, dict) and entry.get("sensitive")}


def _local_text(config: ProjectConfig, root: Path, stack: str) -> tuple[str, str]:
    path = root / local_state_path(stack)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError as err:
        raise NotFoundError(f"stack {stack} has no Terraform state at {path}; {_deploy_hint(stack)}") from err


def _s3_text(config: ProjectConfig, s3_client: Any, stack: str) -> tuple[str, str]:
    # Imported here so reading local state never needs botocore.
    from botocore.exceptions import ClientError

    key = config.remote_state_key(stack)
    source = f"s3://{config.state_bucket}/{key}"
    try:
        body = s3_client.get_object(Bucket=config.state_bucket, Key=key)["Body"].read()
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise NotFoundError(f"stack {stack} has no Terraform state at {source}; {_deploy_hint(stack)}") from err
        if code == "NoSuchBucket":
            raise NotFoundError(f"state bucket {config.state_bucket!r} does not exist; check 'state_bucket' in cdktf.json") from err
        if code in ("AccessDenied", "403"):
            raise AwsError(f"access denied reading {source}; grant s3:GetObject on the state bucket to your AWS identity") from err
        raise AwsError(f"reading Terraform state {source} failed: {err}") from err
    return bytes(body).decode("utf-8"), source


def read_state_text(config: ProjectConfig, *, root: Path, stack: str, s3_client: Any | None = None) -> tuple[str, str]:
    """The raw state document of ``stack`` and where it came from, from the configured backend."""
    if config.state_backend == "s3":
        if s3_client is None:
            raise StateError("state_backend is 's3' but no S3 client was given to read Terraform state")
        return _s3_text(config, s3_client, stack)
    return _local_text(config, root, stack)


def environment_outputs(stack: str, environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The outputs in ``BYOC_OUTPUTS_<STACK>``, or None when the variable is not set."""
    variable = outputs_variable(stack)
    text = (os.environ if environ is None else environ).get(variable)
    if text is None:
        return None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise StateError(f"environment variable {variable} is not valid JSON ({err}); it should hold {stack}'s outputs") from err
    if not isinstance(values, dict):
        raise StateError(f"environment variable {variable} should hold a JSON object of {stack}'s outputs, got {text[:80]!r}")
    return {str(name): value for name, value in values.items()}


def read_outputs(
    config: ProjectConfig, *, root: Path, stack: str, s3_client: Any | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One stack's outputs as ``{name: value}``: ``BYOC_OUTPUTS_<STACK>`` when set, else state.

    ``environ`` defaults to ``os.environ``, read at call time. A stack with neither is a
    :class:`NotFoundError`.
    """
    from_env = environment_outputs(stack, environ)
    if from_env is not None:
        return from_env
    text, source = read_state_text(config, root=root, stack=stack, s3_client=s3_client)
    return parse_state(text, stack=stack, source=source)


def _require(values: Mapping[str, Any], stack: str, name: str) -> Any:
    if name not in values:
        raise NotFoundError(f"stack {stack} has no output {name!r} (is it deployed from this checkout?); {_deploy_hint(stack)}")
    return values[name]


def _string(values: Mapping[str, Any], stack: str, name: str) -> str:
    value = _require(values, stack, name)
    if not isinstance(value, str) or not value:
        raise StateError(f"output {name!r} of {stack} should be a non-empty string, got {value!r}; {_deploy_hint(stack)}")
    return value


def _strings(values: Mapping[str, Any], stack: str, name: str) -> tuple[str, ...]:
    value = _require(values, stack, name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StateError(f"output {name!r} of {stack} should be a list of strings, got {value!r}; {_deploy_hint(stack)}")
    return tuple(value)


_STACK_OF: dict[str, Stack] = {name.value: stack for stack, names in REQUIRED_OUTPUTS.items() for name in names}


@dataclass(frozen=True, kw_only=True)
class StackOutputs:
    """Every name the SageMaker backend reads from the three stacks.

    A stack listed in ``unavailable`` (stack -> why) was found nowhere; reading one of its
    outputs raises :class:`NotFoundError` with that reason, so a build in CodeBuild, which
    carries only the build stack's outputs, still works.
    """

    ecr_repository_url: str
    ecr_repository_name: str
    ecr_repository_arn: str
    build_repo_clone_url_http: str
    build_pipeline_name: str
    datalake_bucket: str
    datalake_key_arn: str
    sagemaker_role_arn: str
    model_package_group: str
    train_repo_clone_url_http: str
    train_pipeline_name: str
    artifact_bucket: str
    approval_topic_arn: str
    deploy_repo_clone_url_http: str
    deploy_pipeline_name: str
    endpoint_name: str
    alarm_names: tuple[str, ...]
    notification_topic_arns: dict[str, str] = field(default_factory=dict)  # stage -> topic ARN, only those set
    unavailable: dict[str, str] = field(default_factory=dict)

    def __getattribute__(self, name: str) -> Any:
        stack = _STACK_OF.get(name)
        if stack is not None:
            reason = object.__getattribute__(self, "unavailable").get(stack)
            if reason is not None:
                raise NotFoundError(reason)
        return object.__getattribute__(self, name)

    @classmethod
    def from_values(cls, by_stack: Mapping[str, Mapping[str, Any]], *, unavailable: Mapping[str, str] | None = None) -> StackOutputs:
        """Build from ``{stack: {output: value}}``; a missing stack or output names the stack to deploy.

        Stacks in ``unavailable`` (stack -> reason) are allowed to be absent; their outputs raise
        on use.
        """
        missing = dict(unavailable or {})
        for stack in STACKS:
            if stack not in by_stack and stack not in missing:
                raise NotFoundError(f"no outputs for stack {stack}; {_deploy_hint(stack)}")
        kwargs: dict[str, Any] = {}
        for stack, names in REQUIRED_OUTPUTS.items():
            for name in names:
                if stack not in by_stack:
                    kwargs[name.value] = () if name is Output.ALARM_NAMES else ""
                    continue
                reader = _strings if name is Output.ALARM_NAMES else _string
                kwargs[name.value] = reader(by_stack[stack], stack, name.value)
        topics: dict[str, str] = {}
        for values in by_stack.values():
            for stage, output in NOTIFICATION_OUTPUTS.items():
                if isinstance(value := values.get(output), str) and value:
                    topics[stage] = value
        return cls(**kwargs, notification_topic_arns=topics, unavailable={s: r for s, r in missing.items() if s not in by_stack})


def read_stack_outputs(
    config: ProjectConfig, *, root: Path, s3_client: Any | None = None, environ: Mapping[str, str] | None = None
) -> StackOutputs:
    """Read and type the outputs of all three stacks (environment first, then state, per stack).

    A stack that is neither in the environment nor readable from state fails on first use of one
    of its outputs, with the same message; a stack that is there but incomplete fails now.
    """
    by_stack: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for stack in STACKS:
        try:
            by_stack[stack] = read_outputs(config, root=root, stack=stack, s3_client=s3_client, environ=environ)
        except (NotFoundError, AwsError) as err:
            # AwsError too: a role allowed only s3:GetObject sees a missing key as AccessDenied.
            unavailable[stack] = str(err)
    return StackOutputs.from_values(by_stack, unavailable=unavailable)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def format_outputs_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Render ``(stack, output, value)`` rows as a plain-text, column-aligned table."""
    header = ("STACK", "OUTPUT", "VALUE")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def outputs_table(config: ProjectConfig, *, root: Path, s3_client: Any | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Every stack's outputs as a table for ``invoke outputs``.

    A stack without state is shown with the command that deploys it instead of failing, because
    the user is inspecting what exists. Sensitive outputs are masked, as ``terraform output`` does.
    A stack whose ``BYOC_OUTPUTS_<STACK>`` variable is set is shown from it (it holds no
    sensitive outputs: CodeBuild would show a plaintext variable anyway).
    """
    rows: list[tuple[str, str, str]] = []
    for stack in STACKS:
        from_env = environment_outputs(stack, environ)
        if from_env is not None:
            rows.extend((stack, name, _cell(from_env[name])) for name in sorted(from_env))
            continue
        try:
            text, source = read_state_text(config, root=root, stack=stack, s3_client=s3_client)
        except NotFoundError:
            rows.append((stack, "-", f"(not deployed: run `cdktf deploy {stack}`)"))
            continue
        values = parse_state(text, stack=stack, source=source)
        hidden = sensitive_outputs(text)
        if not values:
            rows.append((stack, "-", f"(no outputs: run `cdktf deploy {stack}`)"))
        for name in sorted(values):
            rows.append((stack, name, "(sensitive)" if name in hidden else _cell(values[name])))
    return format_outputs_table(rows)
