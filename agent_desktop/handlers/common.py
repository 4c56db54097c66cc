"""Rendering and request-parsing helpers shared by the handlers.

Every parsing failure raises :class:`BadRequest` with a Spanish message, which the error
middleware turns into a 400 (never a 500).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_desktop.auth import SESSION
from agent_desktop.keys import SETTINGS, TEMPLATES


class BadRequest(Exception):
    """The request is malformed; ``str(err)`` is a Spanish message."""


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """Render a template of ``agent_desktop/templates`` as an HTML response."""
    env = request.config_dict[TEMPLATES]
    session = request.get(SESSION)
    ctx = {
        "session": session,
        "csrf_token": session.csrf_token if session else "",
        "request": request,
    }
    ctx.update(context or {})
    html = env.get_template(template).render(ctx)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The urlencoded or multipart body; anything unreadable is a 400."""
    try:
        return await request.post()
    except (ValueError, UnicodeDecodeError, web.HTTPException) as err:
        if isinstance(err, web.HTTPRequestEntityTooLarge):
            raise BadRequest("El formulario es demasiado grande.") from None
        raise BadRequest("No se pudo leer el formulario enviado.") from None
    except Exception:
        raise BadRequest("No se pudo leer el formulario enviado.") from None


def text_field(form: Any, name: str, *, max_length: int = 2000) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"El campo «{name}» debe ser texto.")
    value = value.strip()
    if len(value) > max_length:
        raise BadRequest(f"El campo «{name}» es demasiado largo (máximo {max_length}).")
    if "\x00" in value:  # PostgreSQL refuses NUL in text: a 400, not a 500
        raise BadRequest(f"El campo «{name}» contiene caracteres no válidos.")
    return value


def search_query(request: web.Request) -> str:
    """The ``?q=`` search text (at most 80 characters); NUL is a 400."""
    query = request.query.get("q", "").strip()[:80]
    if "\x00" in query:
        raise BadRequest("La búsqueda contiene caracteres no válidos.")
    return query


#: Largest id of an INTEGER primary key (cases, citizens, entities, services, users...).
MAX_INT_ID = 2**31 - 1
#: Largest id of a BIGINT primary key (calls, callbacks, screen pops...).
MAX_BIGINT_ID = 2**63 - 1


def int_field(
    form: Any, name: str, *, required: bool = False, maximum: int = MAX_INT_ID
) -> int | None:
    raw = text_field(form, name, max_length=20)
    if not raw:
        if required:
            raise BadRequest(f"Falta el campo «{name}».")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"El campo «{name}» debe ser un número entero.") from None
    # Bounded by the column type: PostgreSQL would refuse a larger one with a 500.
    if not 0 < value <= maximum:
        raise BadRequest(f"El campo «{name}» no es un identificador válido.")
    return value


def bool_field(form: Any, name: str) -> bool:
    return text_field(form, name, max_length=10).lower() in ("1", "on", "true", "si", "sí")


def path_int(request: web.Request, name: str, *, maximum: int = MAX_INT_ID) -> int:
    raw = request.match_info.get(name, "")
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("La dirección no es válida.") from None
    if not 0 < value <= maximum:
        raise BadRequest("La dirección no es válida.")
    return value


def local(at: datetime | None, request: web.Request, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC time shown in the configured time zone (America/Panama)."""
    if at is None:
        return ""
    return at.astimezone(request.config_dict[SETTINGS].tz).strftime(fmt)
