"""Password hashing (Argon2id via argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane): about a tenth of
# the CPU of argon2-cffi's defaults (64 MiB, 3 passes, 4 lanes), which made a burst of logins
# take every core. Hashes made with other parameters still verify, and are upgraded at the
# next successful login (:func:`needs_rehash`).
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("La contraseña debe tener al menos 8 caracteres.")
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Argon2 is deliberately slow (tens of ms of CPU each). It runs on a small dedicated pool so
# that a flood of logins never blocks the event loop nor takes every core: other users'
# pages stay fast. Calls beyond MAX_PENDING are refused at once (the caller says "busy").
import asyncio  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

HASH_WORKERS = 1
MAX_PENDING = 16
HASH_NICENESS = 10


def _lower_priority() -> None:
    """Run Argon2 below the event loop's priority (Linux: niceness is per thread, and the
    threads Argon2 starts for its lanes inherit it): a flood of logins waits for CPU, the
    agents' pages do not."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


_pool = ThreadPoolExecutor(
    max_workers=HASH_WORKERS, thread_name_prefix="argon2", initializer=_lower_priority
)
_pending = 0


class HashingBusy(RuntimeError):
    """Too many password checks are waiting; try again in a moment."""


async def _bounded(fn, *args):  # type: ignore[no-untyped-def]
    global _pending
    if _pending >= MAX_PENDING:
        raise HashingBusy("too many password checks waiting")
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)
    finally:
        _pending -= 1


async def verify_password_async(password_hash: str, password: str) -> bool:
    """:func:`verify_password` off the event loop, on the bounded Argon2 pool."""
    return bool(await _bounded(verify_password, password_hash, password))


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` off the event loop, on the bounded Argon2 pool."""
    return str(await _bounded(hash_password, password))
