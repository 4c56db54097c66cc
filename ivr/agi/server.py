"""FastAgiServer: asyncio TCP server that routes each Asterisk AGI connection to a call flow.

Asterisk opens one connection per ``AGI(agi://host:port/route,args)``, sends the environment
block, then waits for commands; the AGI ends (``AGISTATUS=SUCCESS``) when we close the socket.
Hard cases handled here (panoramisk's server failed them, see DEPENDENCIES.md):

* a client that connects and closes before the empty line (a health check): closed quietly;
* garbage or an oversize block: closed; a stall in the environment block: closed after
  ``env_timeout``;
* an unknown route: one ``VERBOSE`` line so the Asterisk log says why, then close (the dialplan
  goes on after AGI(), which is where the call fails open);
* handler exceptions: logged with the route, uniqueid and exception type only (messages may
  hold personal data); AgiHangup is a normal ending.

* a peer whose address is not in ``allow`` (the configured Asterisk hosts): closed before a
  byte is read, one warning logged (FastAGI has no authentication of its own, so anyone who
  reaches the port could otherwise run the call flows);

Each connection runs in its own task: one bad connection never disturbs the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping

from ivr.agi.channel import DEFAULT_COMMAND_TIMEOUT, AgiChannel
from ivr.agi.errors import AgiError, AgiHangup, AgiProtocolError, AgiTimeout
from ivr.agi.protocol import AgiEnvironment, AgiEnvironmentReader

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiChannel], Awaitable[None]]

#: What Asterisk's log shows when a route is unknown.
UNKNOWN_ROUTE_MESSAGE = "cac311: unknown FastAGI route"


class FastAgiServer:
    """Serve FastAGI on ``host:port``, one task per call, routed on ``agi_network_script``."""

    def __init__(
        self,
        routes: Mapping[str, AgiHandler],
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        env_timeout: float = 5.0,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        shutdown_grace: float = 5.0,
        backlog: int = 512,
        allow: Iterable[str] | None = ("127.0.0.1", "::1"),
        reuse_port: bool = True,
    ) -> None:
        """``allow``: addresses or networks of the Asterisk hosts; None accepts any peer."""
        self._allow = (
            None if allow is None else tuple(ipaddress.ip_network(a, strict=False) for a in allow)
        )
        self.refused_peers = 0
        self._routes = routes  # looked up per call: a mutable mapping may gain routes
        self._host = host
        self._requested_port = port
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.shutdown_grace = shutdown_grace
        self._backlog = backlog
        # SO_REUSEPORT: several FastAGI processes bind the same address and the kernel
        # spreads the new connections (the calls) over them (Linux, BSD).
        self._reuse_port = reuse_port and hasattr(socket, "SO_REUSEPORT")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._active_calls = 0

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_calls(self) -> int:
        """Calls whose route handler is running now."""
        return self._active_calls

    @property
    def active_connections(self) -> int:
        """Open connections, including those still sending their environment block."""
        return len(self._tasks)

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await asyncio.start_server(
            self._on_connect,
            self._host,
            self._requested_port,
            limit=256 * 1024,
            backlog=self._backlog,
            reuse_port=self._reuse_port or None,
        )
        log.info("FastAGI listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening, give running calls `shutdown_grace` seconds, then cancel them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=self.shutdown_grace)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), self.shutdown_grace)

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        if self._allow is None:
            return True
        peer = writer.get_extra_info("peername")
        try:
            address = ipaddress.ip_address(peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._allow)

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._allowed(writer):
            self.refused_peers += 1
            peer = writer.get_extra_info("peername")
            log.warning(
                "FastAGI connection refused from %s (not in the allow-list)",
                peer[0] if peer else "?",
            )
            writer.close()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            got = await self._read_env(reader)
            if got is None:
                return
            env, rest = got
            await self._dispatch(env, rest, reader, writer)
        except asyncio.CancelledError:
            log.info("FastAGI connection cancelled at shutdown")
            raise
        except Exception as exc:  # one connection must never kill the server
            log.error("FastAGI connection failed: %s", type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _read_env(self, reader: asyncio.StreamReader) -> tuple[AgiEnvironment, bytes] | None:
        parser = AgiEnvironmentReader()
        try:
            async with asyncio.timeout(self.env_timeout):
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        log.debug("FastAGI client closed before the environment block ended")
                        return None
                    env = parser.feed(chunk)
                    if env is not None:
                        return env, parser.rest
        except TimeoutError:
            log.warning("FastAGI environment block not received within %.1fs", self.env_timeout)
        except AgiProtocolError as exc:
            log.warning("FastAGI client sent an invalid environment block: %s", exc)
        except OSError as exc:
            log.debug("FastAGI connection error before environment: %s", type(exc).__name__)
        return None

    async def _dispatch(
        self,
        env: AgiEnvironment,
        rest: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        route = env.network_script
        channel = AgiChannel(
            reader, writer, env, command_timeout=self.command_timeout, initial_data=rest
        )
        handler = self._routes.get(route)
        if handler is None:
            log.warning("FastAGI unknown route=%r uniqueid=%s", route[:64], env.uniqueid)
            with contextlib.suppress(AgiError, OSError):
                await channel.send_raw(f'VERBOSE "{UNKNOWN_ROUTE_MESSAGE}" 1', reply_timeout=2.0)
            return
        self._active_calls += 1
        try:
            await handler(channel)
        except AgiHangup:
            log.info("FastAGI call ended by hangup route=%s uniqueid=%s", route, env.uniqueid)
        except AgiTimeout:
            log.warning("FastAGI command timed out route=%s uniqueid=%s", route, env.uniqueid)
        except AgiProtocolError as exc:  # a broken or hostile peer: dropped, no traceback
            log.warning(
                "FastAGI peer dropped route=%s uniqueid=%s: %s", route, env.uniqueid[:64], exc
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # logged without its message: it may hold personal data
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error(
                "FastAGI handler failed route=%s uniqueid=%s error=%s\n%s",
                route,
                env.uniqueid,
                type(exc).__name__,
                frames,
            )
        finally:
            self._active_calls -= 1
