"""Health of a running process: each part and each link reports up or down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Check = Callable[[], Awaitable[bool]]


@dataclass
class Health:
    """Named checks; a check that raises or takes over ``timeout`` seconds is down."""

    timeout: float = 2.0
    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def report(self) -> dict[str, str]:
        async def run(check: Check) -> str:
            try:
                return "up" if await asyncio.wait_for(check(), self.timeout) else "down"
            except Exception:
                return "down"

        names = sorted(self.checks)
        states = await asyncio.gather(*(run(self.checks[n]) for n in names))
        return dict(zip(names, states, strict=True))

    async def handle(self, request: web.Request) -> web.Response:
        report = await self.report()
        healthy = all(state == "up" for state in report.values())
        return web.json_response(
            {"status": "up" if healthy else "down", "checks": report},
            status=200 if healthy else 503,
        )
