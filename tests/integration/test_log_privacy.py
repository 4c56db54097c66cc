"""Real leaks of the finding, formatted by the production formatter (issue 15, finding 10):
asyncpg's "invalid input for query argument" and aiohttp's request-error entries."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from sqlalchemy import text

from cac311.logs import RedactingFormatter

CEDULA = "8-123-4567"
TOKEN = "s3cr3tT0kenDeSesion"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)


async def test_an_asyncpg_encoding_error_keeps_the_value_out_of_the_log(uow_factory, captured):
    log = logging.getLogger("cac311.test")
    async with uow_factory() as uow:
        try:
            await uow.session.execute(text("SELECT CAST(:x AS integer) + 1"), {"x": CEDULA})
        except Exception:
            log.exception("could not look the citizen up")
        else:
            pytest.fail("PostgreSQL accepted a cédula as an integer")
    out = captured.getvalue()
    assert "could not look the citizen up" in out
    assert "invalid input for query argument" in out  # the real message, now cut
    assert CEDULA not in out


async def test_aiohttp_request_errors_keep_query_strings_and_cookies_out_of_the_log(captured):
    from aiohttp import web

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ciudadanos", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    bad = [
        b"GET /ciudadanos?q=" + CEDULA.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Cookie: cac311_sesion=" + TOKEN.encode() + b"\x01\r\n\r\n",
        b"GET /ciudadanos?q=" + CEDULA.encode() + b" HTTP/9.9\r\n\r\n",
        b"GET /ciudadanos?q=" + CEDULA.encode() + b"A" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nCookie: cac311_sesion=" + TOKEN.encode() + b"B" * 9000 + b"\r\n\r\n",
    ]
    try:
        for raw in bad:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            await asyncio.wait_for(reader.read(), 5)
            writer.close()
    finally:
        await runner.cleanup()
    out = captured.getvalue()
    assert "Error handling request" in out  # aiohttp did log them
    assert CEDULA not in out and TOKEN not in out
