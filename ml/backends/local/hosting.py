"""Local endpoints' lifecycle verbs: create, describe, invoke, tear down (SageMaker's hosting calls).

A created endpoint starts a new life: whatever an earlier endpoint of the same name left (its
processes, its folder with health checks and scaling activities) is gone first, so ``describe``
tells this endpoint's story only.
"""

from __future__ import annotations

import dataclasses
import http.client

from ml.backends.local import procs
from ml.backends.local.autoscale import status as scaling_status
from ml.backends.local.clock import now_iso
from ml.backends.local.endpoint_state import EndpointSettings, EndpointState
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.records import RouterRecord
from ml.backends.records import Endpoint, Invocation, ModelVersion
from ml.errors import NotFoundError, StateError, UserInputError


def create(endpoints: Endpoints, *, name: str, version: ModelVersion, settings: EndpointSettings) -> Endpoint:
    """CreateEndpoint: a router on a new URL before one variant of ``version``; InService once all answer."""
    with endpoints.claim(name, doing=f"creating it with model version {version.version}"):
        existing = endpoints.load(name)
        if existing is not None and existing.status != "Failed":
            raise UserInputError(
                f"endpoint {name!r} already exists and serves model version {existing.version} at {existing.url}; "
                f"change its version with `invoke deploy --mode update --version {version.version}`, "
                "or remove it with `invoke teardown`"
            )
        if existing is not None:
            endpoints.stop_all(existing)
        endpoints.forget(name)  # the previous life's folder: its health checks, scaling activities, logs
        config_name = endpoints.record_config(name, version, settings)
        state = endpoints.save(EndpointState(name=name, status="Creating", settings=settings, created_at=now_iso()))
        try:
            variant = endpoints.new_variant(name, version, instances=settings.instances, config_name=config_name)
            router = RouterRecord(port=procs.free_port(), back_port=procs.free_port())
            state = endpoints.save(state, fleet=(variant,), weights={variant.id: 100}, router=router, url=f"http://127.0.0.1:{router.port}")
            endpoints.prepare_router(state)
            state = endpoints.bring_up(state)
        except BaseException as err:
            failed = endpoints.load(name) or state
            endpoints.stop_all(failed)
            endpoints.save(failed, status="Failed", failure_reason=str(err), fleet=(), router=None, supervisor=None)
            raise
        return endpoints.settle(state, kind="created", version=version.version, config_name=config_name).public()


def describe(endpoints: Endpoints, *, name: str) -> Endpoint:
    """The record as the processes show it now: status, instance counts, health and scaling lines."""
    state = endpoints.load(name)
    if state is None:
        raise NotFoundError(f"endpoint {name!r} does not exist; create it with `invoke deploy --mode endpoint`")
    live = endpoints.live(state)
    shown = dataclasses.replace(state, status=live.status, failure_reason=live.reason or state.failure_reason)
    scaling = endpoints.scaling_status(name) if state.settings.scaling else None
    running = endpoints.running(state) if live.running else set()
    variants = tuple(
        dataclasses.replace(
            record,
            current_instance_count=sum(1 for p in v.program_names() if p in running),
            desired_instance_count=scaling.desired if scaling and scaling.variant == v.id else v.count,
        )
        for v, record in zip(state.fleet, state.variants(), strict=True)
    )
    lines = live.lines + (scaling_status.lines(scaling) if scaling else ())
    return dataclasses.replace(shown.public(), variants=variants, health=lines)


def invoke(endpoints: Endpoints, *, name: str, body: bytes, content_type: str, accept: str) -> Invocation:
    state = endpoints.load(name)
    if state is None or state.router is None:
        raise NotFoundError(f"endpoint {name!r} does not exist or is not serving; create it with `invoke deploy --mode endpoint`")
    if not endpoints.alive(name):
        raise StateError(endpoints.live(state).reason)
    conn = http.client.HTTPConnection("127.0.0.1", state.router.port, timeout=60)
    try:
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": content_type, "Accept": accept})
        answer = conn.getresponse()
        return Invocation(
            status_code=answer.status,
            content_type=answer.getheader("Content-Type", ""),
            body=answer.read(),
            variant=answer.getheader("X-Byoc-Variant", ""),
        )
    except OSError as err:
        reason = endpoints.live(state).reason or "see `invoke describe`"
        raise StateError(f"endpoint {name!r} did not answer on {state.url} ({err}); {reason}") from err
    finally:
        conn.close()


def teardown(endpoints: Endpoints, *, name: str | None) -> list[str]:
    """Stop and forget ``name`` (None: every endpoint of the project), processes found by folder included."""
    names = [name] if name else endpoints.names()
    lines: list[str] = []
    for each in names:
        with endpoints.claim(each, doing="tearing it down"):
            lines += _teardown_one(endpoints, each)
    return lines + (endpoints.stop_unrecorded() if name is None else [])


def _teardown_one(endpoints: Endpoints, name: str) -> list[str]:
    try:
        state = endpoints.load(name)
    except StateError as err:  # a record this version cannot read: its processes are found by their folder
        lines = [str(err), *endpoints.stop_strays(name)]
        endpoints.forget(name)
        return [*lines, f"deleted endpoint {name}"]
    if state is None:
        stray = endpoints.stop_strays(name)  # a run killed before its first write
        endpoints.forget(name)
        return [f"endpoint {name!r} does not exist; nothing to tear down", *stray]
    lines = endpoints.stop_all(state)
    endpoints.forget(name)
    return [*lines, f"deleted endpoint {name}"]
