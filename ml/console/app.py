"""The app factory: ``create_app(settings)`` builds one console; granian calls :func:`from_environ`.

Errors a user can act on are pages, never tracebacks: the project's errors keep the words the
CLI prints (``error: ...``) with a 4xx status (a missing AWS permission is a 403 that names the
permission), and HTTP errors (a refused form, an unknown page) say what happened the same way.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from ml.console import endpoints, monitoring, reports, security, versions
from ml.console.services import EXTENSION, Services, default_services, services
from ml.console.settings import ConsoleSettings
from ml.errors import AwsError, ByocError, JobFailedError, NotFoundError, StateError, TimeoutExpiredError, UserInputError

log = logging.getLogger(__name__)


# The first matching class decides; NotFoundError before UserInputError's other subclasses.
_STATUSES: tuple[tuple[type[ByocError], int], ...] = (
    (NotFoundError, 404),
    (UserInputError, 400),
    (StateError, 409),
    (JobFailedError, 409),
    (TimeoutExpiredError, 504),
)


def error_status(err: ByocError) -> int:
    """The HTTP status of a project error: the user's mistake is 4xx, and so is a denied AWS call."""
    if isinstance(err, AwsError):
        denied = "access denied" in str(err) or "credentials" in str(err)
        return 403 if denied else 502
    return next((status for kind, status in _STATUSES if isinstance(err, kind)), 500)


def create_app(settings: ConsoleSettings, *, service: Services | None = None) -> Flask:
    """One console for ``settings``; ``service`` replaces how the backend and sources are built (tests)."""
    app = Flask(__name__)
    app.extensions[EXTENSION] = service or default_services(settings)
    security.install(app, settings)
    app.jinja_env.globals.update(csrf_token=security.csrf_token, csrf_field=security.CSRF_FIELD)
    app.jinja_env.filters["short"] = lambda text, n=12: str(text)[:n] if text else "-"
    for blueprint in (versions.blueprint, endpoints.blueprint, monitoring.blueprint, reports.blueprint):
        app.register_blueprint(blueprint)

    @app.context_processor
    def _project() -> dict[str, object]:
        s = services().settings
        return {"project": s.config.project_name, "backend_name": s.backend, "group": s.config.model_package_group}

    @app.errorhandler(ByocError)
    def _byoc_error(err: ByocError) -> tuple[str, int]:
        status = error_status(err)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.path, err)
        return render_template("error.html", status=status, message=f"error: {err}"), status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[str, int] | Response:
        status = err.code or 500
        if isinstance(err, SecurityError):
            # An untrusted Host: the request has no URL adapter, so the page template cannot be built.
            text = f"{err.description} Open the console at the address `invoke console` printed (127.0.0.1).\n"
            return Response(text, status=status, content_type="text/plain; charset=utf-8")
        return render_template("error.html", status=status, message=f"{err.name}: {err.description}"), status

    return app


def from_environ() -> Flask:
    """granian's factory (``--factory``): the settings ``invoke console`` put in the environment."""
    return create_app(ConsoleSettings.from_environ())
