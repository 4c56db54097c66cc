"""Cross-site request forgery checks.

Logged-in forms carry the session's CSRF token (hidden field ``csrf_token`` or header
``X-CSRF-Token`` for fetch); WebSocket commands carry it as ``"csrf"``. The login form,
before any session exists, uses a double-submit cookie (``cac311_csrf_login``).
"""

from __future__ import annotations

import hmac

from aiohttp import web

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "cac311_csrf_login"
MESSAGE = "Falta el código de seguridad del formulario o no es válido. Recargue la página."


def tokens_match(expected: str | None, given: object) -> bool:
    """Constant-time comparison; False when either side is missing."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def check_form(request: web.Request, form: object, expected: str | None) -> None:
    """Raise 403 unless the form field or header carries ``expected``."""
    given = request.headers.get(HEADER) or _get(form, FIELD)
    if not tokens_match(expected, given):
        raise web.HTTPForbidden(text=MESSAGE)


def _get(form: object, name: str) -> object:
    getter = getattr(form, "get", None)
    return getter(name) if getter else None
