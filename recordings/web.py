"""aiohttp routes to play recordings and read their access log (Spanish UI).

The desktop owns login and sessions and injects ``current_actor(request)``; this module only
asks it who is there (401 when nobody, 403 when the role may not hear the call).

Byte ranges are served here rather than by ``web.FileResponse`` because FileResponse may swap
in a ``.gz``/``.br`` sibling when the browser accepts compression, and we want to stream
exactly the file that was verified and audited, from a descriptor opened with
``O_NOFOLLOW``. One range per request (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``): several
ranges, or a unit other than bytes, are ignored and the whole file is sent (RFC 9110 allows
it); a malformed or unsatisfiable bytes range gets 416 with ``Content-Range: bytes */size``.
``If-Range`` with a different ETag also sends the whole file.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, select_autoescape

from cac311.config import Settings
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.roles import ROLE_LABELS, Actor, Role, can_supervise
from recordings import service
from recordings.service import (
    PURGED_MESSAGE,
    AccessDenied,
    CallNotFound,
    RecordingUnavailable,
)
from recordings.storage import RecordingStore, open_for_reading

CurrentActor = Callable[[web.Request], "Awaitable[Actor | None] | Actor | None"]
PageContext = Callable[[web.Request], Awaitable[dict]]
PAGE_SIZE = 50


@dataclass(frozen=True)
class Layout:
    """The host's page layout: a loader with its ``base.html`` (header, navigation, logout)
    and what that template needs per request (e.g. the session and its CSRF token)."""

    loader: BaseLoader
    context: PageContext
Clock = Callable[[], datetime]

CHUNK = 1 << 16
MAX_CALL_ID = 2**63 - 1
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; media-src 'self'"
_SPEC = re.compile(r"^(\d*)-(\d*)$")
ACTION_LABELS = {"play": "Reproducción", "download": "Descarga"}


class RangeNotSatisfiable(ValueError):
    """The Range header asks for bytes the file does not have (HTTP 416)."""


def parse_byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single inclusive byte range ``(first, last)`` asked for, or None to send it all.

    Raises RangeNotSatisfiable for a malformed bytes range or one beyond ``size``.
    """
    if header is None:
        return None
    unit, sep, ranges = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in ranges.split(",")]
    if len(specs) != 1:
        return None
    match = _SPEC.match(specs[0])
    if match is None or match.group(0) == "-":
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(header)
    end = int(last) if last else size - 1
    if end < start:
        raise RangeNotSatisfiable(header)
    return start, min(end, size - 1)


def _role_label(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def _templates(layout: Layout | None) -> Environment:
    own = PackageLoader("recordings", "templates")
    env = Environment(
        loader=ChoiceLoader([own, layout.loader]) if layout else own,
        autoescape=select_autoescape(["html"]),
    )
    # Pages extend the host's base.html when there is one, else a bare page of our own.
    env.globals["layout"] = "base.html" if layout else "recordings_base.html"
    env.globals["ACTION_LABELS"] = ACTION_LABELS
    env.globals["PURGED_MESSAGE"] = PURGED_MESSAGE
    return env


@contextlib.contextmanager
def _call_errors() -> Iterator[None]:
    """The HTTP answer to a call that does not exist or may not be heard."""
    try:
        yield
    except CallNotFound:
        raise web.HTTPNotFound(text="Llamada no encontrada.") from None
    except AccessDenied:
        raise web.HTTPForbidden(text="No tiene permiso para escuchar esta grabación.") from None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def setup_recordings_routes(
    app: web.Application,
    *,
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    current_actor: CurrentActor,
    clock: Clock | None = None,
    layout: Layout | None = None,
) -> None:
    """Add the recording routes (``/grabaciones/...``) to ``app``; with ``layout`` the pages
    carry the host's header, navigation and logout."""
    views = _RecordingViews(uow_factory, settings, current_actor, clock or _utcnow, layout)
    app.router.add_get(r"/grabaciones/llamada/{call_id:\d{1,19}}", views.page, allow_head=False)
    app.router.add_get(
        r"/grabaciones/llamada/{call_id:\d{1,19}}/audio", views.audio, allow_head=False
    )
    app.router.add_get("/grabaciones/auditoria", views.audit, allow_head=False)
    app.router.add_get("/grabaciones", views.listing, allow_head=False)


class _RecordingViews:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        settings: Settings,
        current_actor: CurrentActor,
        clock: Clock,
        layout: Layout | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.layout = layout
        self.settings = settings
        self.store = RecordingStore(settings.recordings_dir)
        self.current_actor = current_actor
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.env = _templates(layout)

    async def _actor(self, request: web.Request) -> Actor:
        result = self.current_actor(request)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            raise web.HTTPUnauthorized(text="Debe iniciar sesión.")
        return result

    @staticmethod
    def _call_id(request: web.Request) -> int:
        call_id = int(request.match_info["call_id"])
        if not 0 < call_id <= MAX_CALL_ID:
            raise web.HTTPNotFound(text="Llamada no encontrada.")
        return call_id

    async def _html(
        self, request: web.Request, template: str, status: int = 200, **context: object
    ) -> web.Response:
        extra = await self.layout.context(request) if self.layout else {}
        body = self.env.get_template(template).render(**{**extra, **context})
        return web.Response(
            text=body,
            status=status,
            content_type="text/html",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "private, no-store"},
        )

    def _local(self, when: datetime | None) -> str:
        return when.astimezone(self.tz).strftime("%d/%m/%Y %H:%M:%S") if when else "—"

    async def page(self, request: web.Request) -> web.Response:
        actor = await self._actor(request)
        call_id = self._call_id(request)
        with _call_errors():
            view = await service.describe_call(
                self.uow_factory,
                self.settings,
                actor=actor,
                call_id=call_id,
                now=self.clock(),
                store=self.store,
            )
        return await self._html(
            request,
            "grabacion.html",
            view=view,
            started=self._local(view.started_at),
            audio_url=f"/grabaciones/llamada/{view.call_id}/audio",
        )

    async def audio(self, request: web.Request) -> web.StreamResponse:
        actor = await self._actor(request)
        call_id = self._call_id(request)
        download = request.query.get("download") == "1"
        try:
            with _call_errors():
                playback = await service.open_playback(
                    self.uow_factory,
                    self.settings,
                    actor=actor,
                    call_id=call_id,
                    now=self.clock(),
                    store=self.store,
                )
        except RecordingUnavailable as err:
            if err.state == "purged":
                raise web.HTTPGone(text=PURGED_MESSAGE.capitalize() + ".") from None
            raise web.HTTPNotFound(text="Grabación no disponible.") from None
        try:
            fd, st = await asyncio.to_thread(open_for_reading, playback.path)
        except OSError:
            raise web.HTTPNotFound(text="Grabación no disponible.") from None
        try:
            return await self._send(request, actor, playback, fd, st, download)
        finally:
            os.close(fd)

    async def _send(
        self,
        request: web.Request,
        actor: Actor,
        playback: service.Playback,
        fd: int,
        st: os.stat_result,
        download: bool,
    ) -> web.StreamResponse:
        size = st.st_size
        etag = f'"{st.st_mtime_ns:x}-{size:x}"'
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Type": playback.content_type,
            "ETag": etag,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        }
        name = f"grabacion-llamada-{playback.call_id}.{playback.audio_format}"
        disposition = "attachment" if download else "inline"
        headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            range_header = None
        try:
            byte_range = parse_byte_range(range_header, size)
        except RangeNotSatisfiable:
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        if byte_range is None:
            status, start, length = 200, 0, size
            range_start = None
        else:
            status, start = 206, byte_range[0]
            length = byte_range[1] - byte_range[0] + 1
            headers["Content-Range"] = f"bytes {byte_range[0]}-{byte_range[1]}/{size}"
            range_start = start
        await service.record_access(
            self.uow_factory,
            actor=actor,
            call_id=playback.call_id,
            recording_id=playback.recording_id,
            action="download" if download else "play",
            now=self.clock(),
            remote_addr=request.remote,
            user_agent=request.headers.get("User-Agent"),
            range_start=range_start,
        )
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = length
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        offset, remaining = start, length
        while remaining > 0:
            chunk = await loop.run_in_executor(None, os.pread, fd, min(CHUNK, remaining), offset)
            if not chunk:
                break
            await response.write(chunk)
            offset += len(chunk)
            remaining -= len(chunk)
        await response.write_eof()
        return response

    def _day(self, raw: str, *, end: bool = False) -> datetime | None:
        """A local day (AAAA-MM-DD) as a UTC bound: its start, or the next day's start."""
        try:
            day = date.fromisoformat(raw.strip()) if raw.strip() else None
        except ValueError:
            raise web.HTTPBadRequest(text="La fecha no es válida (use AAAA-MM-DD).") from None
        if day is None:
            return None
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    @staticmethod
    def _id(raw: str) -> int | None:
        raw = raw.strip()
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_CALL_ID:
            raise web.HTTPBadRequest(text="El número de llamada no es válido.")
        return int(raw)

    async def listing(self, request: web.Request) -> web.Response:
        actor = await self._actor(request)
        if actor.role is Role.LIAISON:
            raise web.HTTPForbidden(text="Su rol no permite escuchar grabaciones.")
        q = request.query
        form = {
            "desde": q.get("desde", "")[:10],
            "hasta": q.get("hasta", "")[:10],
            "agente": q.get("agente", "").strip()[:80],
            "llamada": q.get("llamada", "")[:19],
        }
        filters = service.CallFilter(
            since=self._day(form["desde"]),
            until=self._day(form["hasta"], end=True),
            agent=form["agente"] or None,
            call_id=self._id(form["llamada"]),
            before_id=self._id(q.get("antes", "")[:19]),
        )
        calls = await service.playable_calls(
            self.uow_factory, actor=actor, limit=PAGE_SIZE, filters=filters
        )
        more = None
        if len(calls) == PAGE_SIZE:
            more = {**{k: v for k, v in form.items() if v}, "antes": str(calls[-1].call_id)}
        return await self._html(
            request,
            "grabaciones.html",
            calls=[{"call": c, "at": self._local(c.at)} for c in calls],
            can_audit=can_supervise(actor),
            form=form,
            more=more,
            filtered=any(form.values()) or "antes" in q,
        )

    async def audit(self, request: web.Request) -> web.Response:
        actor = await self._actor(request)
        if not can_supervise(actor):
            raise web.HTTPForbidden(text="Solo supervisores y administradores.")
        raw = request.query.get("llamada", "").strip()
        digits = raw.isascii() and raw.isdigit()  # "²".isdigit() is True, int("²") fails
        call_id = int(raw) if digits and 0 < int(raw) <= MAX_CALL_ID else None
        rows = await service.access_log(self.uow_factory, limit=500, call_id=call_id)
        entries = [
            {
                "at": self._local(r.at),
                "username": r.username,
                "role": _role_label(r.role),
                "call_id": r.call_id,
                "recording_id": r.recording_id,
                "action": ACTION_LABELS.get(r.action, r.action),
                "remote_addr": r.remote_addr or "—",
                "user_agent": r.user_agent or "—",
            }
            for r in rows
        ]
        return await self._html(
            request,
            "auditoria.html", entries=entries, call_id=call_id, timezone=self.settings.timezone
        )
