"""The fake AWS endpoint: moto's server app behind a front that adds what moto lacks.

Every client in the rehearsal talks to one loopback URL (``AWS_ENDPOINT_URL``). Requests whose
``X-Amz-Target`` names an operation a fake models go to that fake; everything else goes to moto
untouched, so moto's own validation and store stay in charge of the rest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from ml.backends.local.procs import free_port
from tools.rehearsal.fakes.codebuild import CodeBuildFake
from tools.rehearsal.fakes.codecommit import CodeCommitFake
from tools.rehearsal.fakes.ecr import EcrFake, Mutability
from tools.rehearsal.fakes.ecr_cache import PullThroughCacheFake
from tools.rehearsal.fakes.motoapp import JSON_TARGETS, MotoApp, Reply, WsgiApp, error_reply, strip_length
from tools.rehearsal.fakes.s3_notifications import NotificationCorrections
from tools.rehearsal.fakes.sagemaker import EndpointsFake, JobsFake, ModelPackagesFake
from tools.rehearsal.fakes.timestamps import with_numeric_timestamps
from tools.rehearsal.faults import Fault
from tools.rehearsal.registry import RegistryClient

StartResponse = Any
PREFIX_SERVICE = {prefix: service for service, prefix in JSON_TARGETS.items()}


class FrontApp:
    """WSGI app: route intercepted JSON operations to the fakes, the rest to moto."""

    def __init__(self, *, moto: MotoApp, fakes: Mapping[str, Mapping[str, Any]], faultable: tuple[Any, ...] = ()) -> None:
        self.moto = moto
        self._faultable = faultable
        self._notifications = NotificationCorrections()
        # service -> operation -> fake with .handle(operation, request)
        self._fakes = fakes

    def set_fault(self, fault: Fault | None) -> None:
        """The failure the fakes inject from now on (``None``: none)."""
        for fake in self._faultable:
            fake.fault = fault

    def route(self, target: str) -> tuple[str, str, Any] | None:
        prefix, _, operation = target.partition(".")
        service = PREFIX_SERVICE.get(prefix)
        fake = self._fakes.get(service or "", {}).get(operation)
        return (service, operation, fake) if service and fake is not None else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        routed = self.route(environ.get("HTTP_X_AMZ_TARGET", ""))
        if routed is None:
            return self._moto_or_not_implemented(environ, start_response)
        _service, operation, fake = routed
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = json.loads(body or b"{}")
        reply: Reply = fake.handle(operation, request)
        answer = with_numeric_timestamps(environ["HTTP_X_AMZ_TARGET"], reply.body) if reply.ok else reply.body
        headers = [*strip_length(reply.headers), ("Content-Length", str(len(answer))), ("x-amzn-RequestId", "rehearsal")]
        start_response(f"{reply.status} {'OK' if reply.ok else 'Bad Request'}", headers)
        return [answer]

    def _moto_or_not_implemented(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """moto's answer; a 500 from moto (an operation it does not implement raises
        NotImplementedError, or it crashed) becomes a 400 naming the operation, which SDKs do not
        retry, so a caller fails at once and says why instead of retrying a server error for
        minutes. No AWS API answers this way: it marks a hole in the rehearsal, never a behaviour
        to rely on. Only answers the front rewrites (JSON timestamps, S3 notification
        configurations) are read whole; every other body streams through as moto sends it."""
        self._notifications.before(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        what = target or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            captured.append((status, headers))
            return lambda _data: None

        try:
            body: Iterable[bytes] = self.moto.app(environ, capture)
        except Exception as err:
            return self._not_implemented(start_response, what, f"{type(err).__name__}: {err}")
        if not captured:  # a lazy app starts its response with its first chunk
            body = [_drain(body)]
        if not captured:
            return self._not_implemented(start_response, what, "moto started no response")
        status, headers = captured[0]
        if status.startswith("500"):
            detail = _drain(body).decode(errors="replace")[-200:]
            return self._not_implemented(start_response, what, detail)
        rewrites = status.startswith("2") and (bool(target) or self._notifications.bucket_of(environ) is not None)
        if not rewrites:
            start_response(status, headers)
            return body
        answer = _drain(body)
        answer = with_numeric_timestamps(target, answer) if target else self._notifications.after(environ, answer)
        start_response(status, [*strip_length(headers), ("Content-Length", str(len(answer)))])
        return [answer]

    @staticmethod
    def _not_implemented(start_response: StartResponse, what: str, detail: str) -> Iterable[bytes]:
        reply = error_reply(
            status=400, code="NotImplementedInRehearsal", message=f"moto failed on {what} ({detail}); the rehearsal has no fake for it"
        )
        start_response("400 Bad Request", [*strip_length(reply.headers), ("Content-Length", str(len(reply.body)))])
        return [reply.body]


def _drain(body: Iterable[bytes]) -> bytes:
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def make_front(*, region: str, registry: RegistryClient, fault: Fault | None, mutability: dict[str, Mutability] | None = None) -> FrontApp:
    """moto's app (a fresh dispatcher; moto's backends are process-wide) with the fakes in front."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    moto = MotoApp(app=moto_app, region=region)
    jobs = JobsFake(moto=moto, fault=fault)
    endpoints = EndpointsFake(moto=moto, fault=fault)
    ecr = EcrFake(moto=moto, registry=registry, mutability=mutability)
    packages = ModelPackagesFake(moto=moto)
    fakes: dict[str, dict[str, Any]] = {
        "sagemaker": {
            **dict.fromkeys(JobsFake.OPERATIONS, jobs),
            **dict.fromkeys(EndpointsFake.OPERATIONS, endpoints),
            **dict.fromkeys(ModelPackagesFake.OPERATIONS, packages),
        },
        "ecr": {**dict.fromkeys(EcrFake.OPERATIONS, ecr), **dict.fromkeys(PullThroughCacheFake.OPERATIONS, PullThroughCacheFake())},
        "codecommit": dict.fromkeys(CodeCommitFake.OPERATIONS, CodeCommitFake(moto=moto)),
        "codebuild": dict.fromkeys(CodeBuildFake.OPERATIONS, CodeBuildFake(region=region)),
    }
    return FrontApp(moto=moto, fakes=fakes, faultable=(jobs, endpoints))


def reset_moto() -> None:
    """Empty moto's process-wide store, so one rehearsal never sees another's resources."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


def _quiet_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        """No access log: the rehearsal's own report says what happened."""

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return QuietHandler


class FakeAwsServer:
    """The front on 127.0.0.1 in a daemon thread; ``url`` is what AWS_ENDPOINT_URL gets."""

    def __init__(self, *, app: FrontApp, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeAwsServer:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=_quiet_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None

    def __enter__(self) -> FakeAwsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
