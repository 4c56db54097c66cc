"""aiohttp routes of Open311 GeoReport v2 under ``/open311/``.

Every answer, error or not, is a document in the format the path asks for (``.json`` or
``.xml``); an unknown format is answered in XML, the spec's required format. Errors are the
spec's list of ``{code, description}`` with the HTTP status: 400 for what is missing or
malformed, 403 for a missing or invalid ``api_key``, 404 for an unknown service, request or
``jurisdiction_id``, 429 beyond a key's hourly limit. ``jurisdiction_id`` is optional (we
serve one jurisdiction) but, when given, must be ours.

Extended statuses (FixMyStreet's model): with ``extensions=true`` a request's ``status`` is
one of ``open``, ``action_scheduled``, ``in_progress``, ``not_councils_responsibility``,
``closed``; without it, the spec's ``open``/``closed``. The ``status`` filter takes either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import TYPE_LABELS, CaseType, Channel, is_case_number
from case_core.domain.errors import DomainError
from case_core.domain.tracking import spaced_code
from case_core.services import api_keys
from case_core.services import open311_queries as queries
from case_core.services.citizen_cases import CitizenFiling, file_citizen_case
from open311.formats import CONTENT_TYPES, SERIALIZERS

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00-05:00"
MAX_SPAN = timedelta(days=90)
MAX_PAGE = 1000
BASIC = {"cerrado": "closed"}
EXTENDED = {
    "registrado": "open",
    "asignado": "action_scheduled",
    "en_proceso": "in_progress",
    "devuelto_311": "not_councils_responsibility",
    "cerrado": "closed",
}
OPEN_STATUSES = ["registrado", "asignado", "en_proceso", "devuelto_311"]
STATUS_FILTERS: dict[str, list[str]] = {
    "open": OPEN_STATUSES,
    "closed": ["cerrado"],
    "action_scheduled": ["asignado"],
    "in_progress": ["en_proceso"],
    "not_councils_responsibility": ["devuelto_311"],
}
DEFAULT_TYPE = CaseType.SOLICITUD
_FORMAT = r"{fmt:[A-Za-z0-9]{1,8}}"
KEY_ID = web.RequestKey("open311_key_id", int)


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def setup_open311_routes(
    app: web.Application,
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    tz: ZoneInfo,
    jurisdiction_id: str,
    public_origin: str = "",
) -> None:
    views = _Open311(uow_factory, clock, tz, jurisdiction_id, public_origin)
    r = app.router
    r.add_get(r"/open311/discovery." + _FORMAT, views.wrap(views.discovery))
    r.add_get(r"/open311/v2/services." + _FORMAT, views.wrap(views.services))
    r.add_get(r"/open311/v2/services/{code:[^/]{1,40}?}." + _FORMAT, views.wrap(views.definition))
    r.add_get(r"/open311/v2/requests." + _FORMAT, views.wrap(views.requests))
    r.add_post(r"/open311/v2/requests." + _FORMAT, views.wrap(views.create, post=True))
    r.add_get(r"/open311/v2/requests/{id:[^/]{1,40}?}." + _FORMAT, views.wrap(views.request))


class _Open311:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        tz: ZoneInfo,
        jurisdiction_id: str,
        public_origin: str,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.tz = tz
        self.jurisdiction_id = jurisdiction_id
        self.public_origin = public_origin

    # -- plumbing --------------------------------------------------------------------

    def wrap(
        self,
        handler: Callable[[web.Request, dict[str, str]], Awaitable[tuple[str, Any]]],
        *,
        post: bool = False,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def view(request: web.Request) -> web.StreamResponse:
            fmt = request.match_info["fmt"].lower()
            if fmt not in SERIALIZERS:
                return _document(
                    "xml", "errors", [_error(404, "Formato no soportado: use json o xml.")], 404
                )
            try:
                params = await _params(request, post=post)
                if not post:  # a POST checks its key first, so that the log can name it
                    self._check_jurisdiction(params)
                root, body = await handler(request, params)
            except Open311Error as err:
                if post:
                    await self._log_post(request, err.status, "error")
                return _document(fmt, "errors", [_error(err.status, err.description)], err.status)
            return _document(fmt, root, body, 200)

        return view

    def _check_jurisdiction(self, params: dict[str, str]) -> None:
        given = params.get("jurisdiction_id", "")
        if given and given != self.jurisdiction_id:
            raise Open311Error(404, f"jurisdiction_id no encontrado: {given[:60]}")

    async def _log_post(
        self, request: web.Request, status: int, outcome: str, case_id: int | None = None
    ) -> None:
        key_id = request.get(KEY_ID)
        await api_keys.log_post(
            self.uow_factory,
            now=self.clock(),
            api_key_id=key_id,
            outcome=outcome,
            http_status=status,
            case_id=case_id,
        )
        log.info("Open311 POST key=%s status=%s outcome=%s", key_id, status, outcome)

    def _time(self, at: datetime | None) -> str | None:
        return None if at is None else at.astimezone(self.tz).isoformat(timespec="seconds")

    # -- resources ------------------------------------------------------------------

    async def discovery(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        origin = self.public_origin or f"{request.scheme}://{request.host}"
        return "discovery", {
            "changeset": CHANGESET,
            "contact": "Centro de Atención Ciudadana 3-1-1: llame al 3-1-1.",
            "key_service": "Solicite una clave de API al Centro 3-1-1 (para crear solicitudes).",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": f"{origin}/open311/v2",
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }

    async def services(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        return "services", [self._service(s) for s in await queries.services(self.uow_factory)]

    def _service(self, s: queries.ServiceInfo) -> dict[str, Any]:
        return {
            "service_code": str(s.id),
            "service_name": s.name,
            "description": f"{s.name} ({s.entity_name}). Respuesta en {s.sla_days} días.",
            "metadata": True,
            "type": "realtime",
            "keywords": ", ".join(dict.fromkeys((s.entity_short_name, s.entity_code))),
            "group": s.entity_name,
        }

    async def definition(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        code = request.match_info["code"]
        service = await self._known_service(code)
        return "service_definition", {
            "service_code": str(service.id),
            "attributes": [
                {
                    "variable": True,
                    "code": "tipo",
                    "datatype": "singlevaluelist",
                    "required": False,
                    "datatype_description": "Tipo de caso; si no se indica, solicitud.",
                    "order": 1,
                    "description": "¿Qué desea presentar?",
                    "values": [{"key": t.value, "name": label} for t, label in TYPE_LABELS.items()],
                }
            ],
        }

    async def _known_service(self, code: str) -> queries.ServiceInfo:
        if not code.isdigit() or len(code) > 18:
            raise Open311Error(404, f"service_code no encontrado: {code[:40]}")
        found = await queries.services(self.uow_factory, service_id=int(code))
        if not found:
            raise Open311Error(404, f"service_code no encontrado: {code}")
        return found[0]

    async def requests(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        extended = params.get("extensions", "").lower() == "true"
        ids = _list(params.get("service_request_id"))
        if ids:
            for number in ids:
                if not is_case_number(number):
                    raise Open311Error(400, f"service_request_id mal formado: {number[:20]}")
            found = await queries.public_requests(self.uow_factory, numbers=ids)
            return "service_requests", [self._request(r, extended) for r in found]
        codes = _list(params.get("service_code"))
        if any(not c.isdigit() or len(c) > 18 for c in codes):
            raise Open311Error(
                400, "service_code debe ser una lista de números separados por comas."
            )
        statuses: list[str] = []
        for status in _list(params.get("status")):
            if status not in STATUS_FILTERS:
                raise Open311Error(400, f"status no válido: {status[:30]}")
            statuses += STATUS_FILTERS[status]
        start = _date(params.get("start_date"), "start_date")
        end = _date(params.get("end_date"), "end_date")
        if start is None and end is None:
            end = self.clock()
        if start is None:
            start = end - MAX_SPAN  # type: ignore[operator]
        elif end is None:
            end = start + MAX_SPAN
        if end < start:
            raise Open311Error(400, "end_date es anterior a start_date.")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "El intervalo de fechas no puede pasar de 90 días.")
        page = _positive(params.get("page"), "page", default=1)
        size = _positive(params.get("page_size"), "page_size", default=MAX_PAGE)
        if size > MAX_PAGE:
            raise Open311Error(400, f"page_size no puede pasar de {MAX_PAGE}.")
        found = await queries.public_requests(
            self.uow_factory,
            service_ids=[int(c) for c in codes],
            start=start,
            end=end,
            statuses=statuses,
            limit=size,
            offset=(page - 1) * size,
        )
        return "service_requests", [self._request(r, extended) for r in found]

    async def request(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        number = request.match_info["id"]
        if not is_case_number(number):
            raise Open311Error(400, f"service_request_id mal formado: {number[:20]}")
        found = await queries.public_requests(self.uow_factory, numbers=[number])
        if not found:
            # Unknown and confidential look the same: confidential cases are not public.
            raise Open311Error(404, f"service_request_id no encontrado: {number}")
        return "service_requests", [self._request(found[0], params.get("extensions") == "true")]

    def _request(self, r: queries.PublicRequest, extended: bool) -> dict[str, Any]:
        status = (EXTENDED if extended else BASIC).get(r.status, "open")
        return {
            "service_request_id": r.number,
            "status": status,
            "status_notes": r.status_notes,
            "service_name": r.service_name,
            "service_code": None if r.service_id is None else str(r.service_id),
            # The citizen's own words may name people: not published through GET.
            "description": None,
            "agency_responsible": r.entity_name,
            "service_notice": None,
            "requested_datetime": self._time(r.opened_at),
            "updated_datetime": self._time(r.updated_at),
            "expected_datetime": self._time(r.due_at),
            "address": r.address,
            "address_id": None,
            "zipcode": None,
            "lat": r.latitude,
            "long": r.longitude,
            "media_url": None,
        }

    async def create(self, request: web.Request, params: dict[str, str]) -> tuple[str, Any]:
        key = await api_keys.authenticate(self.uow_factory, params.get("api_key", ""))
        if key is None:
            raise Open311Error(403, "Falta la clave api_key o no es válida.")
        request[KEY_ID] = key.id
        self._check_jurisdiction(params)
        now = self.clock()
        if await api_keys.over_limit(self.uow_factory, key, now=now):
            raise Open311Error(429, "Se superó el límite de solicitudes por hora de esta clave.")
        if not params.get("service_code"):
            raise Open311Error(400, "Falta service_code.")
        service = await self._known_service(params["service_code"])
        lat, lon = _coordinate(params.get("lat")), _coordinate(params.get("long"))
        address = params.get("address_string", "").strip()[:400]
        if (lat is None) != (lon is None):
            raise Open311Error(400, "lat y long se envían juntos.")
        if lat is None and not address:
            raise Open311Error(400, "Falta la ubicación: lat y long, o address_string.")
        raw_type = params.get("attribute[tipo]", "") or DEFAULT_TYPE.value
        try:
            case_type = CaseType(raw_type)
        except ValueError:
            raise Open311Error(400, f"attribute[tipo] no válido: {raw_type[:20]}") from None
        description = params.get("description", "").strip()
        if len(description) > 4000:
            raise Open311Error(400, "description no puede pasar de 4000 caracteres.")
        media = params.get("media_url", "").strip()[:500]
        if media:
            # Kept as text for the agents; never fetched by us (no request to a URL a client
            # chose: that would be a server-side request forgery).
            description = f"{description}\n\nEnlace a foto o video: {media}"
        name = " ".join(
            p for p in (params.get("first_name", ""), params.get("last_name", "")) if p.strip()
        )
        identity = bool(name or params.get("email") or params.get("phone"))
        try:
            registered = await file_citizen_case(
                self.uow_factory,
                CitizenFiling(
                    type=case_type,
                    channel=Channel.APP,
                    service_id=service.id,
                    description=description,
                    address=address or None,
                    latitude=lat,
                    longitude=lon,
                    anonymous=case_type is CaseType.DENUNCIA and not identity,
                    name=name or None,
                    email=params.get("email") or None,
                    phone=params.get("phone") or None,
                    require_contact=False,
                ),
                now=now,
                tz=self.tz,
            )
        except DomainError as err:
            raise Open311Error(400, str(err)) from None
        await self._log_post(request, 200, "creado", registered.id)
        due = registered.due_at.astimezone(self.tz).strftime("%d/%m/%Y")
        return "service_requests", [
            {
                "service_request_id": registered.number,
                "service_notice": (
                    f"Caso registrado; respuesta esperada a más tardar el {due}. Código de "
                    f"seguimiento: {spaced_code(registered.tracking_code)}."
                ),
                "account_id": None,
            }
        ]


def _document(fmt: str, root: str, body: Any, status: int) -> web.Response:
    return web.Response(
        text=SERIALIZERS[fmt](root, body),
        status=status,
        content_type=CONTENT_TYPES[fmt],
        charset="utf-8",
    )


def _error(code: int, description: str) -> dict[str, Any]:
    return {"code": code, "description": description}


async def _params(request: web.Request, *, post: bool) -> dict[str, str]:
    params = {k: v for k, v in request.query.items()}
    if post:
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise Open311Error(400, "Envíe el formulario como application/x-www-form-urlencoded.")
        try:
            form = await request.post()
        except Exception:
            raise Open311Error(400, "No se pudo leer el formulario enviado.") from None
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key, value in params.items():
        if "\x00" in value or len(value) > 4100:
            raise Open311Error(400, f"Valor no válido en {key[:30]}.")
    return params


def _list(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()][:200]


_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$")


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    text = raw.strip()
    if not _W3C.match(text):
        raise Open311Error(400, f"{name} no es una fecha W3C válida (p. ej. 2026-01-01T00:00:00Z).")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} no es una fecha válida.") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} debe indicar la zona horaria (Z o ±HH:MM).")
    return value


def _positive(raw: str | None, name: str, *, default: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise Open311Error(400, f"{name} debe ser un número entero positivo.")
    return int(raw)


def _coordinate(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, "lat y long deben ser números (WGS84).") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Open311Error(400, "lat y long deben ser números (WGS84).")
    return value
