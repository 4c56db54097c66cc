#!/usr/bin/env python3
"""Agents' page latency while failing logins flood the desktop (issue 11).

One desktop process (``agent_desktop.app.init_app``, as ``cac311 serve --only web`` runs it)
on a migrated, seeded bench database. A logged-in agent requests ``/escritorio`` in a loop;
first alone (baseline), then while ``--attackers`` clients post wrong passwords as fast as
they can for ``--seconds``:

- *throttled*: the production policy (5 failures lock an account, 20 failures lock an
  address for 15 minutes): almost every attempt is refused before Argon2 runs;
- *unprotected*: no limits, no tarpit, Argon2 on the default thread pool (as before issue
  11, but with the cheaper Argon2 parameters of issue 11), for comparison on the same machine;
- *distributed*: the per-address and per-account limits lifted (as if every attempt came
  from another address for another user), so only the bounded Argon2 pool
  (``case_core.security``: 1 worker, at most 16 waiting, the rest answered 503) protects the
  other users.

Before issue 11, 30 parallel failing logins took agents' pages from about 20 ms to 0.9 s.

    python bench/login_flood.py --attackers 30 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from yarl import URL  # noqa: E402

from bench._common import (  # noqa: E402
    add_db_args,
    drop_database,
    machine,
    recreate_database,
    summary,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class NoQueue:
    async def queue_add(self, *a: object) -> None: ...
    async def queue_pause(self, *a: object) -> None: ...
    async def queue_remove(self, *a: object) -> None: ...
    async def redirect_to_readback(self, *a: object, **k: object) -> None: ...
    async def originate_manual_callback(self, *a: object) -> None: ...


async def agent_pages(base: str, token: str, stop: asyncio.Event) -> list[float]:
    from agent_desktop.auth import COOKIE

    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({COOKIE: token}, URL(base))
    times: list[float] = []
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        while not stop.is_set():
            start = time.perf_counter()
            async with http.get(f"{base}/escritorio") as r:
                await r.read()
                assert r.status == 200, r.status
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)
    return times


async def attacker(base: str, n: int, stop: asyncio.Event, statuses: collections.Counter) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/login") as r:
            token = CSRF_RE.search(await r.text()).group(1)  # type: ignore[union-attr]
        k = 0
        while not stop.is_set():
            k += 1
            data = {
                "usuario": f"agente{1 + (n + k) % 3}",
                "contrasena": "no-es",
                "csrf_token": token,
            }
            async with http.post(f"{base}/login", data=data, allow_redirects=False) as r:
                await r.read()
                statuses[r.status] += 1


async def phase(
    base: str, token: str, attackers: int, seconds: float
) -> tuple[list[float], collections.Counter]:
    stop = asyncio.Event()
    statuses: collections.Counter = collections.Counter()
    pages = asyncio.create_task(agent_pages(base, token, stop))
    tasks = [asyncio.create_task(attacker(base, n, stop, statuses)) for n in range(attackers)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return await pages, statuses


async def main_async(args: argparse.Namespace) -> int:
    import logging

    import agent_desktop.admin.login as login_module
    from agent_desktop.app import init_app
    from agent_desktop.sessions import create_session
    from cac311.config import Settings
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.models import LoginAttemptRow, UserRow
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.domain.passwords import ThrottlePolicy
    from case_core.seed.loader import seed

    logging.getLogger("case_core.services.login_guard").setLevel(logging.ERROR)
    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    await seed(uow_factory, now=datetime.now(UTC), demo_users=True)
    async with uow_factory() as uow:
        agent = await uow.users.by_username("agente1")
    token = await create_session(
        uow_factory, user_id=agent.id, now=datetime.now(UTC), max_age_seconds=3600
    )
    app = init_app(Settings(), uow_factory=uow_factory, engine=engine, queue_control=NoQueue())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    print(f"login flood: {args.attackers} attackers, {args.seconds:g} s per phase; {machine()}")

    async def reset() -> None:
        from sqlalchemy import delete, update

        async with uow_factory() as uow:
            await uow.session.execute(delete(LoginAttemptRow))
            await uow.session.execute(update(UserRow).values(failed_logins=0, locked_until=None))
            await uow.commit()

    try:
        baseline, _ = await phase(base, token, 0, args.seconds)
        print(f"  baseline     /escritorio {summary(baseline)}")
        await reset()
        pages, statuses = await phase(base, token, args.attackers, args.seconds)
        print(f"  throttled    /escritorio {summary(pages)}  logins {dict(statuses)}")
        await reset()
        open_policy = ThrottlePolicy(max_user_failures=10**9, max_ip_failures=10**9)
        login_module.policy_of = lambda request: open_policy  # type: ignore[assignment]
        pages, statuses = await phase(base, token, args.attackers, args.seconds)
        print(f"  distributed  /escritorio {summary(pages)}  logins {dict(statuses)}")
        # As before issue 11: no limits, no tarpit, Argon2 on the default thread pool.
        from case_core.security import verify_password

        async def unbounded(stored: str, password: str) -> bool:
            return await asyncio.to_thread(verify_password, stored, password)

        login_module.FAILURE_DELAY_SECONDS = 0.0
        login_module.verify_password_async = unbounded  # type: ignore[assignment]
        await reset()
        pages, statuses = await phase(base, token, args.attackers, args.seconds)
        print(f"  unprotected  /escritorio {summary(pages)}  logins {dict(statuses)}")
    finally:
        await runner.cleanup()
        await engine.dispose()
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--attackers", type=int, default=30)
    p.add_argument("--seconds", type=float, default=10.0)
    add_db_args(p, "cac311_bench_login")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
