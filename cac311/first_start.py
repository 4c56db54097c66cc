"""``cac311 serve`` refuses an unsafe first start (issue 11).

It will not start while no active administrator exists or while an active user still has a
published demo password, unless ``CAC311_ENV=demo`` says this is a demonstration.
"""

from __future__ import annotations

import asyncio

from cac311.config import Settings


def refuse_unsafe_start(settings: Settings) -> str | None:
    """A Spanish message saying what to do, or None when it is safe to start."""
    return asyncio.run(unsafe_start_reason(settings))


async def unsafe_start_reason(settings: Settings) -> str | None:
    """:func:`refuse_unsafe_start` inside a running loop."""
    if settings.env == "demo":
        return None
    from cac311.bootstrap import database
    from case_core.services.user_admin import first_start_check

    try:
        async with database(settings) as uow_factory:
            result = await first_start_check(uow_factory)
    except Exception as err:  # database down or not migrated
        return (
            "cac311 no arranca: no se pudo revisar los usuarios en la base de datos "
            f"({type(err).__name__}). ¿Corrió «cac311 db upgrade»?"
        )
    problems = []
    if not result.has_active_admin:
        problems.append(
            "No hay ningún administrador activo. Cree el primero con:\n"
            "    cac311 users create-admin NOMBRE_DE_USUARIO"
        )
    if result.demo_password_users:
        names = ", ".join(result.demo_password_users)
        problems.append(
            f"Estos usuarios activos tienen la contraseña pública de demostración: {names}.\n"
            "    Desactívelos (cac311 users disable USUARIO) o póngales otra contraseña "
            "(cac311 users reset-password USUARIO)."
        )
    if not problems:
        return None
    return (
        "cac311 no arranca en producción:\n  "
        + "\n  ".join(problems)
        + "\n  (Para una demostración, use «cac311 demo» o CAC311_ENV=demo.)"
    )
