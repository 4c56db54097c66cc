"""Slow HTTP clients are timed out and connections capped (issue 15, finding 6)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from cac311.http_guard import GuardedAppRunner


@pytest.fixture
async def site():
    async def page(request: web.Request) -> web.Response:
        if request.method == "POST":
            await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/", page)
    runner = GuardedAppRunner(app, header_timeout=0.5, body_timeout=0.5, max_connections=20)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # noqa: SLF001
    yield runner, port
    await runner.cleanup()


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        await asyncio.wait_for(reader.read(), within)
    except TimeoutError:
        return False
    return True


async def test_a_client_trickling_header_lines_is_closed_after_the_header_timeout(site):
    runner, port = site
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        # One header line every 0.2 s: each one alone is fast, together they never end.
        for n in range(100):
            await asyncio.sleep(0.2)
            writer.write(b"X-Slow-%d: 1\r\n" % n)
            await writer.drain()

    task = asyncio.create_task(trickle())
    try:
        assert await _closed_by_server(reader, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.close()
    assert runner.server.timed_out >= 1


async def test_a_client_that_never_finishes_its_body_is_closed_after_the_body_timeout(site):
    runner, port = site
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
    await writer.drain()
    assert await _closed_by_server(reader, 10)
    writer.close()
    assert runner.server.timed_out >= 1


async def test_a_silent_connection_is_closed_and_normal_requests_still_work(site):
    _, port = site
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await _closed_by_server(reader, 10)  # connected, never sent a byte
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"ok")
    writer.close()


async def test_connections_beyond_the_cap_are_refused_with_503(site):
    runner, port = site
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    async with asyncio.timeout(5):  # wait until the server has accepted all of them
        while len(runner.server.connections) < 20:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert response.startswith(b"HTTP/1.1 503")
    assert "Servidor ocupado" in response.decode()
    assert runner.server.refused >= 1
    for _, w in held:
        w.close()
    writer.close()


async def test_an_upgraded_websocket_outlives_the_header_timeout():
    import aiohttp

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str("eco:" + message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = GuardedAppRunner(app, header_timeout=0.3, body_timeout=0.3)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # noqa: SLF001
    server = runner.server
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await asyncio.sleep(1.0)  # well past both timeouts: must stay open
                await ws.send_str("hola")
                reply = await ws.receive(timeout=5)
                assert reply.data == "eco:hola"
    finally:
        await runner.cleanup()
    assert server.timed_out == 0
