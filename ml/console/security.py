"""The console's guards: who may ask, which forms count, what a browser may do with a page.

- **Loopback by default.** On 127.0.0.1 the ``Host`` header must name this machine
  (``TRUSTED_HOSTS``), so a web page that re-points its own domain at 127.0.0.1 (DNS rebinding)
  is refused. Beyond loopback, every request needs the token ``invoke console`` printed: as
  ``?token=`` once (it becomes an HttpOnly, SameSite=Strict cookie, and the address bar loses
  it), as that cookie, or as ``Authorization: Bearer``.
- **CSRF.** Every POST carries the form field ``csrf_token``, equal to the one in the signed
  session cookie; without it the request is refused (403) before any backend call.
- **Headers.** A strict Content-Security-Policy (scripts and styles from the console only, no
  frames), ``nosniff``, no referrer, no caching of pages, and ``Server-Timing`` with the time
  the server spent (what the benchmark reads).
"""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlencode

from flask import Flask, Response, abort, g, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from ml.console.settings import ConsoleSettings

TOKEN_COOKIE = "byoc_console_token"  # noqa: S105 (a name, not a secret)
CSRF_FIELD = "csrf_token"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Report pages are our own escaped HTML with inline styles and embedded plots, and no scripts.
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; sandbox"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


def csrf_token() -> str:
    """This browser session's CSRF token (made on first use); templates put it in every form."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def _token_ok(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    offered = [
        request.args.get("token", ""),
        request.cookies.get(TOKEN_COOKIE, ""),
        header.removeprefix("Bearer ") if header.startswith("Bearer ") else "",
    ]
    return any(o and hmac.compare_digest(o.encode(), expected.encode()) for o in offered)


def install(app: Flask, settings: ConsoleSettings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="byoc_console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=64 * 1024,  # the forms are a note and a number
        MAX_FORM_MEMORY_SIZE=16 * 1024,
    )
    if settings.loopback:
        app.config["TRUSTED_HOSTS"] = LOOPBACK_HOSTS

    @app.before_request
    def _guard() -> BaseResponse | None:
        g.started = time.perf_counter()
        if settings.token:
            if not _token_ok(settings.token):
                abort(401, "this console needs its token: open the address `invoke console` printed (it ends in ?token=...)")
            if request.args.get("token"):
                # The token goes into a cookie, and out of the address bar, history and logs.
                query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
                answer = redirect(request.path + (f"?{query}" if query else ""), code=303)
                answer.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="Strict")
                return answer
        if request.method == "POST":
            offered = request.form.get(CSRF_FIELD, "")
            expected = session.get(CSRF_FIELD, "")
            if not offered or not isinstance(expected, str) or not hmac.compare_digest(offered.encode(), expected.encode()):
                abort(403, "refused: this form's CSRF token is missing or stale; reload the page and submit it again")
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        is_report = request.path.startswith("/reports/")
        response.headers.setdefault("Content-Security-Policy", REPORT_POLICY if is_report else PAGE_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        started = g.get("started")
        if started is not None:
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
