"""Recognising "the database is unreachable" among exceptions (issue 15, finding 9).

A web page answers such an error with a Spanish 503 instead of a 500 with a traceback. Only
connection-level failures count (refused, reset, timed out connecting, pool exhausted,
PostgreSQL starting or shutting down), never a failing statement, which is a bug to see.
"""

from __future__ import annotations

_ASYNCPG_OUTAGES = frozenset(
    {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "InterfaceError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
    }
)


def is_database_outage(err: BaseException) -> bool:
    """True when ``err`` (or what caused it) means PostgreSQL cannot be reached now."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout | ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and not isinstance(current, FileNotFoundError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if (
            type(current).__module__.startswith("asyncpg")
            and type(current).__name__ in _ASYNCPG_OUTAGES
        ):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False
