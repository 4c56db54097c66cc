"""Password policy and login throttling rules (pure: no I/O, ``now`` passed in).

Policy (issue 11): at least ``MIN_LENGTH`` characters, not one of the commonly used passwords
(``data/common_passwords.txt``, compared case- and accent-insensitively), not the user name
nor containing it, and never the published demo password.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from case_core.domain.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 200
DEMO_PASSWORDS = frozenset({"cac311-demo"})


class WeakPassword(DomainError):
    """The new password breaks the policy; the message says why, in Spanish."""


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "common_passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line.strip()) for line in lines if line.strip() and line[0] != "#")


def check_password(password: str, *, username: str) -> str:
    """Return ``password`` when it satisfies the policy, else raise WeakPassword."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"La contraseña debe tener al menos {MIN_LENGTH} caracteres.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"La contraseña no puede pasar de {MAX_LENGTH} caracteres.")
    folded = _fold(password)
    if password in DEMO_PASSWORDS or folded in common_passwords():
        raise WeakPassword("Esa contraseña es demasiado común. Elija otra.")
    name = _fold(username.strip())
    if name and (name in folded or folded in name):
        raise WeakPassword("La contraseña no puede contener el nombre de usuario.")
    if len(set(folded)) < 4:
        raise WeakPassword("La contraseña repite muy pocos caracteres distintos. Elija otra.")
    return password


@dataclass(frozen=True)
class ThrottlePolicy:
    """N failures in a row lock an account for ``lockout``; an address with too many failures
    in ``ip_window`` is refused for the rest of that window."""

    max_user_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    max_ip_failures: int = 20
    ip_window: timedelta = timedelta(minutes=15)

    def locked_until_after_failure(self, failures: int, now: datetime) -> datetime | None:
        """When the account unlocks after its ``failures``-th failure in a row (None: not)."""
        return now + self.lockout if failures >= self.max_user_failures else None

    def ip_blocked(self, recent_ip_failures: int) -> bool:
        return recent_ip_failures >= self.max_ip_failures


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now
