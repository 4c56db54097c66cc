"""The ``intake`` part of ``cac311 serve``: the SMTP server of the e-mail intake.

Runs only when ``CAC311_INTAKE_BIND`` is set (host:port, e.g. a private address that only
the institution's relay can reach); recipients must be of ``CAC311_INTAKE_DOMAIN``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cac311.bootstrap import Runtime

log = logging.getLogger(__name__)


async def start_intake(rt: Runtime) -> None:
    from mailer.intake import IntakeConfig, start_intake_server

    bind = rt.settings.intake_bind
    if bind is None:
        return
    server = await start_intake_server(
        rt.uow_factory,
        IntakeConfig(
            domain=rt.settings.intake_domain,
            attachments_dir=rt.settings.recordings_dir,
            tz=rt.settings.tz,
        ),
        host=bind.host,
        port=bind.port,
        clock=rt.clock,
    )

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    rt.stack.push_async_callback(stop)
    rt.ports["intake"] = server.sockets[0].getsockname()[1]

    async def listening() -> bool:
        return server.is_serving()

    rt.health.add("intake", listening)
    log.info(
        "e-mail intake (SMTP) on %s:%s for @%s",
        bind.host,
        rt.ports["intake"],
        rt.settings.intake_domain,
    )
