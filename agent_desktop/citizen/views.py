"""Handlers of the citizen web; see the package docstring."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import BodyPartReader, web

from agent_desktop.auth import cookie_secure
from agent_desktop.citizen.keys import TEMPLATES
from agent_desktop.citizen.staff import attachment, classify, new_tracking_code, to_classify
from agent_desktop.csrf import tokens_match
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.domain.case import TYPE_LABELS, CaseType, Channel
from case_core.domain.cedula import PROVINCES
from case_core.domain.errors import DomainError
from case_core.domain.tracking import spaced_code
from case_core.services import rate_limit
from case_core.services.case_status import LookupLocked, private_status
from case_core.services.citizen_cases import (
    AttachmentFile,
    CitizenFiling,
    add_attachments,
    file_citizen_case,
    public_service,
    search_public_services,
)
from case_core.services.rate_limit import Limit
from recordings import attachments as files

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSRF_COOKIE = "cac311_csrf_ciudadano"
CSRF_MESSAGE = "El formulario caducó. Vuelva a cargar la página e inténtelo de nuevo."
WEB_FILINGS = Limit("web_caso", 10, timedelta(hours=1))
ONE_SUBMISSION = Limit("web_envio", 1, timedelta(days=1))
MAX_FIELD_BYTES = 8 * 1024
MAX_FIELDS = 40
MAX_BODY_BYTES = files.MAX_PHOTOS * files.MAX_PHOTO_BYTES + 256 * 1024
CHUNK = 64 * 1024
FIELD_LIMITS = {
    "descripcion": 4000,
    "direccion": 400,
    "nombre": 160,
    "correo": 200,
    "telefono": 40,
    "cedula": 20,
    "provincia": 60,
    "distrito": 80,
    "corregimiento": 80,
}


class FormProblem(Exception):
    """A problem with what the citizen sent; ``str`` is Spanish, shown above the form."""


def setup_citizen_routes(app: web.Application) -> None:
    """Add ``/ciudadano/...`` and the staff route for case attachments to the desktop app."""
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(HERE / "templates"),
                # Staff pages extend the desktop's layout as "desk/base.html".
                jinja2.PrefixLoader({"desk": jinja2.FileSystemLoader(HERE.parent / "templates")}),
            ]
        ),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
    )
    r = app.router
    r.add_get("/ciudadano", _to_home)
    r.add_get("/ciudadano/", home)
    r.add_get("/ciudadano/consulta", follow_form)
    r.add_post("/ciudadano/consulta", follow)
    r.add_get("/ciudadano/nuevo", filing_form)
    r.add_post("/ciudadano/nuevo", file_case)
    r.add_get(r"/casos/{case_id:\d{1,18}}/adjuntos/{attachment_id:\d{1,18}}", attachment)
    r.add_get("/correo/por-clasificar", to_classify)
    r.add_post("/casos/codigo", new_tracking_code)
    r.add_post(r"/casos/{case_id:\d{1,18}}/clasificar", classify)
    r.add_static("/ciudadano/estatico", HERE / "static")


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/ciudadano/")


def _client(request: web.Request) -> str:
    """The citizen's address: the peer, or the last hop a trusted reverse proxy added."""
    peer = request.remote or "desconocido"
    if peer in request.config_dict[SETTINGS].trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return peer


def _render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    tz = request.config_dict[SETTINGS].tz

    def local(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return "" if at is None else at.astimezone(tz).strftime(fmt)

    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render({"csrf": token, "local": local, **context})
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=cookie_secure(request),
            path="/ciudadano/",
        )
    return response


def _check_csrf(request: web.Request, fields: dict[str, str]) -> None:
    if not tokens_match(request.cookies.get(CSRF_COOKIE), fields.get("csrf_token")):
        raise FormProblem(CSRF_MESSAGE)


async def home(request: web.Request) -> web.StreamResponse:
    """GET /ciudadano/."""
    return _render(request, "inicio.html", {})


# -- follow a case ---------------------------------------------------------------------


async def follow_form(request: web.Request) -> web.StreamResponse:
    """GET /ciudadano/consulta: the number and code are asked by POST, kept out of URLs."""
    return _render(request, "consulta.html", {"numero": "", "error": None})


async def follow(request: web.Request) -> web.StreamResponse:
    """POST /ciudadano/consulta: number + tracking code (or cédula's last four) -> status."""
    config = request.config_dict
    try:
        fields, _ = await _read_form(request, allow_photos=False)
        _check_csrf(request, fields)
    except FormProblem as problem:
        return _render(request, "consulta.html", {"numero": "", "error": str(problem)}, status=400)
    number = "".join(fields.get("numero", "").split())[:14]
    code = "".join(fields.get("codigo", "").split())[:8]
    try:
        status = await private_status(
            config[UOW],
            number=number,
            secret=code,
            source=f"web:{_client(request)}",
            now=config[CLOCK](),
            tz=config[SETTINGS].tz,
        )
    except LookupLocked as locked:
        return _render(request, "consulta.html", {"numero": "", "error": str(locked)}, status=429)
    if status is None:
        message = "El número de caso o el código no coinciden con nuestros registros."
        return _render(request, "consulta.html", {"numero": number, "error": message}, status=404)
    return _render(request, "caso.html", {"s": status})


# -- file a case -----------------------------------------------------------------------


async def filing_form(request: web.Request) -> web.StreamResponse:
    """GET /ciudadano/nuevo[?q=words]: the form, with the services matching ``q``."""
    query = request.query.get("q", "").replace("\x00", "").strip()[:80]
    return await _filing_page(request, query=query, values={})


async def _filing_page(
    request: web.Request,
    *,
    query: str,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    uow_factory = request.config_dict[UOW]
    services = await search_public_services(uow_factory, query) if query else []
    chosen = values.get("servicio_id", "")
    if chosen.isdigit() and all(str(s.id) != chosen for s in services):
        service = await public_service(uow_factory, int(chosen))
        services = ([service] if service else []) + services
    return _render(
        request,
        "nuevo.html",
        {
            "q": query,
            "services": services,
            "v": values,
            "error": error,
            "envio": secrets.token_urlsafe(18),
            "case_types": {t.value: label for t, label in TYPE_LABELS.items()},
            "provinces": sorted(PROVINCES.values()),
            "max_photos": files.MAX_PHOTOS,
        },
        status=status,
    )


async def file_case(request: web.Request) -> web.StreamResponse:
    """POST /ciudadano/nuevo: register a ``web`` case, store its photos, show number + code."""
    config = request.config_dict
    uow_factory = config[UOW]
    now = config[CLOCK]()
    source = f"web:{_client(request)}"
    fields: dict[str, str] = {}
    try:
        fields, photos = await _read_form(request, allow_photos=True)
        _check_csrf(request, fields)
        if fields.get("sitio_web"):
            log.info("citizen web: honeypot filled, filing dropped")
            raise FormProblem("No se pudo enviar el formulario.")
        kinds = [files.check_photo(data) for _, data in photos]
        photos = [
            (name, files.strip_metadata(data, kind))
            for (name, data), kind in zip(photos, kinds, strict=True)
        ]
        filing = _filing(fields)
        async with uow_factory() as uow:
            if await rate_limit.exceeded(uow.session, WEB_FILINGS, now=now, source=source):
                raise FormProblem(
                    "Se han enviado demasiados casos desde su conexión. Inténtelo más tarde "
                    "o llame al 3-1-1."
                )
            envio = fields.get("envio", "")
            if envio:
                if await rate_limit.exceeded(
                    uow.session, ONE_SUBMISSION, now=now, source=f"envio:{envio}"
                ):
                    raise FormProblem(
                        "Este formulario ya fue enviado. Revise su correo o consulte su caso."
                    )
                await rate_limit.record_event(
                    uow.session, ONE_SUBMISSION, now=now, source=f"envio:{envio}"
                )
            await rate_limit.record_event(uow.session, WEB_FILINGS, now=now, source=source)
            await rate_limit.purge_events(uow.session, before=now - timedelta(days=2))
            await uow.commit()
        registered = await file_citizen_case(uow_factory, filing, now=now, tz=config[SETTINGS].tz)
    except (FormProblem, files.NotAllowed, DomainError) as problem:
        values = {k: v for k, v in fields.items() if k not in ("csrf_token", "envio")}
        return await _filing_page(
            request, query=fields.get("q", ""), values=values, error=str(problem), status=400
        )
    stored = []
    base = Path(config[SETTINGS].recordings_dir)
    for (name, data), kind in zip(photos, kinds, strict=True):
        saved = await asyncio.to_thread(files.store, base, data, kind, now=now)
        stored.append(
            AttachmentFile(
                _safe_name(name, kind),
                saved.relative_path,
                saved.content_type,
                saved.size_bytes,
                saved.sha256,
            )
        )
    await add_attachments(uow_factory, registered.id, stored, source="web")
    return _render(
        request,
        "recibido.html",
        {
            "number": registered.number,
            "code": spaced_code(registered.tracking_code),
            "due": registered.due_at.astimezone(config[SETTINGS].tz).strftime("%d/%m/%Y"),
            "photos": len(stored),
            "emailed": bool(filing.email) and not filing.anonymous,
        },
    )


def _filing(fields: dict[str, str]) -> CitizenFiling:
    try:
        case_type = CaseType(fields.get("tipo", ""))
    except ValueError:
        raise FormProblem("Elija el tipo de caso.") from None
    service_id = fields.get("servicio_id", "")
    if not service_id.isdigit() or len(service_id) > 18:
        raise FormProblem("Busque y elija el servicio al que se refiere su caso (paso 1).")
    return CitizenFiling(
        type=case_type,
        channel=Channel.WEB,
        service_id=int(service_id),
        description=fields.get("descripcion", ""),
        province=fields.get("provincia") or None,
        district=fields.get("distrito") or None,
        corregimiento=fields.get("corregimiento") or None,
        address=fields.get("direccion") or None,
        latitude=_coordinate(fields.get("latitud", ""), "latitud"),
        longitude=_coordinate(fields.get("longitud", ""), "longitud"),
        anonymous=fields.get("anonimo") in ("1", "on"),
        name=fields.get("nombre") or None,
        cedula=fields.get("cedula") or None,
        phone=fields.get("telefono") or None,
        email=fields.get("correo") or None,
    )


def _coordinate(raw: str, name: str) -> float | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormProblem(f"La {name} debe ser un número, por ejemplo 8.9824.") from None
    if not math.isfinite(value):
        raise FormProblem(f"La {name} debe ser un número, por ejemplo 8.9824.")
    return value


def _safe_name(name: str | None, kind: str) -> str:
    base = "".join(ch for ch in (name or "") if ch.isalnum() or ch in "._- ")[:100].strip()
    return base or f"foto.{kind}"


async def _read_form(
    request: web.Request, *, allow_photos: bool
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """Text fields (first value of each) and photos, with every size bounded while reading."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise FormProblem("El envío es demasiado grande (fotos de 5 MB como máximo).")
    if request.content_type != "multipart/form-data":
        try:
            form = await request.post()
        except Exception:
            raise FormProblem("No se pudo leer el formulario enviado.") from None
        return {k: _text(k, v) for k, v in form.items() if isinstance(v, str)}, []
    fields: dict[str, str] = {}
    photos: list[tuple[str, bytes]] = []
    total = 0
    try:
        reader = await request.multipart()
        count = 0
        while (part := await reader.next()) is not None:
            count += 1
            if count > MAX_FIELDS + files.MAX_PHOTOS or not isinstance(part, BodyPartReader):
                raise FormProblem("No se pudo leer el formulario enviado.")
            name = part.name or ""
            if part.filename is not None:
                data = await _read_part(
                    part, files.MAX_PHOTO_BYTES, "Cada foto debe pesar como máximo 5 MB."
                )
                total += len(data)
                if not data:
                    continue  # an empty file input
                if not allow_photos or name != "fotos":
                    raise FormProblem("No se pudo leer el formulario enviado.")
                if len(photos) >= files.MAX_PHOTOS:
                    raise FormProblem(f"Puede adjuntar como máximo {files.MAX_PHOTOS} fotos.")
                photos.append((part.filename, data))
            else:
                data = await _read_part(
                    part, MAX_FIELD_BYTES, "Un campo del formulario es demasiado largo."
                )
                total += len(data)
                if name not in fields:
                    fields[name] = _text(name, data.decode("utf-8", errors="strict"))
            if total > MAX_BODY_BYTES:
                raise FormProblem("El envío es demasiado grande.")
    except FormProblem:
        raise
    except (ValueError, UnicodeDecodeError, AssertionError):
        raise FormProblem("No se pudo leer el formulario enviado.") from None
    return fields, photos


async def _read_part(part: BodyPartReader, limit: int, message: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise FormProblem(message)
    return bytes(data)


def _text(name: str, value: str) -> str:
    value = value.strip()
    if "\x00" in value:
        raise FormProblem("El formulario contiene caracteres no válidos.")
    limit = FIELD_LIMITS.get(name, 200)
    if len(value) > limit:
        raise FormProblem(f"El campo «{name}» es demasiado largo (máximo {limit}).")
    return value
