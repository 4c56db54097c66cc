"""Slow and greedy HTTP clients (issue 15, finding 6).

aiohttp has no header or body read timeout and no connection cap: 800 clients sending one
header line every 10 s stayed connected for ever, in the process that also serves FastAGI.
`GuardedAppRunner` is an ``AppRunner`` whose connections:

- must deliver a complete request head within ``header_timeout`` seconds of its first byte
  (or of connecting), on every request of a keep-alive connection;
- must deliver a request body within ``body_timeout`` seconds of its head;
- are refused with ``503`` beyond ``max_connections`` at once.

WebSockets (``/ws``) are exempt once upgraded: the heartbeat looks after them. In production
a reverse proxy (nginx, Caddy: see the README) sits in front with the same limits; these are
the backstop when it is missing or misconfigured.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 15.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 512

_BUSY_TEXT = b"Servidor ocupado: intente de nuevo.\r\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(_BUSY_TEXT)
) + _BUSY_TEXT


class GuardedServer(Server):
    """A ``web.Server`` whose connections are `GuardedRequestHandler`s."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_connections = MAX_CONNECTIONS
    refused = 0
    timed_out = 0

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)


class GuardedRequestHandler(RequestHandler):
    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = manager
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self._guard.connections) >= self._guard.max_connections:
            self._refused = True
            self._guard.refused += 1
            transport.write(_BUSY)  # type: ignore[attr-defined]
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timers()
        if self._refused:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        body_pending = self._body is not None and not self._body.is_eof()
        if data and not body_pending and not self._upgraded and self._payload_parser is None:
            self._arm_head()
        before = self._request_count
        super().data_received(data)
        if self._upgraded:
            self._cancel_timers()
            return
        if self._request_count > before:
            self._cancel(head=True)
            payload = self._messages[-1][1] if self._messages else None
            if payload is not None and not payload.is_eof():
                self._body = payload
                self._cancel(head=False)
                self._body_timer = self._loop.call_later(
                    self._guard.body_timeout, self._expired, "body"
                )
        if self._body is not None and self._body.is_eof():
            self._body = None
            self._cancel(head=False)

    def _arm_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self._loop.call_later(
                self._guard.header_timeout, self._expired, "head"
            )

    def _expired(self, what: str) -> None:
        if what == "head":
            self._head_timer = None
        else:
            self._body_timer = None
            if self._body is None or self._body.is_eof():
                return
        self._guard.timed_out += 1
        log.info("HTTP client too slow sending the request %s: connection closed", what)
        self.force_close()
        if self.transport is not None:
            self.transport.abort()

    def _cancel(self, *, head: bool) -> None:
        timer = self._head_timer if head else self._body_timer
        if timer is not None:
            timer.cancel()
        if head:
            self._head_timer = None
        else:
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel(head=True)
        self._cancel(head=False)


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` with header and body read timeouts and a connection cap."""

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._limits = (header_timeout, body_timeout, max_connections)

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer
        guarded: GuardedServer = server  # type: ignore[assignment]
        guarded.header_timeout, guarded.body_timeout, guarded.max_connections = self._limits
        guarded.refused = guarded.timed_out = 0
        return guarded
