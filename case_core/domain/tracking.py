"""Tracking codes: the second factor that lets a citizen follow a case privately.

Case numbers are sequential (``2026000123``), so a number alone must never reveal a case.
At registration a case gets a random six-digit code (digits only, so it can be keyed on a
phone and read back by an agent), drawn with :mod:`secrets`. Only a salted scrypt hash is
stored: the code is shown once to the agent for the read-back and sent once by e-mail,
and nobody who reads the database, a backup or a screen later can learn it.

Why hashed, knowing that a six-digit space cannot resist an offline search for long: the
hash keeps codes out of every SELECT, export, log and support screen (the common leaks),
and scrypt makes each offline guess cost milliseconds instead of nanoseconds. The real
protection of a short code is online: lookups are rate-limited per caller ID / IP and per
case (see ``case_core.services.case_status``). A citizen who loses the code can still
prove themselves with the last four digits of their cédula, or ask an agent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

CODE_LENGTH = 6
CEDULA_SUFFIX_LENGTH = 4
# 4 MiB of memory and a few tens of milliseconds per hash on the target machines.
_N, _R, _P = 2**12, 8, 1
_SCHEME = "scrypt"


def new_tracking_code() -> str:
    """A fresh random code of CODE_LENGTH digits (leading zeros allowed)."""
    return "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))


def hash_tracking_code(code: str) -> str:
    """The storable form of ``code``: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(code.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join((_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_tracking_code(code: str, stored: str | None) -> bool:
    """True when ``code`` is the one hashed in ``stored`` (constant-time comparison)."""
    if not stored or not is_tracking_code(code):
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        candidate = hashlib.scrypt(
            code.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, _unb64(digest))


def is_tracking_code(text: str | None) -> bool:
    return bool(text) and len(text or "") == CODE_LENGTH and (text or "").isdigit()


def cedula_suffix(cedula: str | None) -> str | None:
    """The last four digits of a cédula (``8-123-4567`` -> ``4567``), or None."""
    digits = "".join(ch for ch in (cedula or "") if ch.isdigit())
    return digits[-CEDULA_SUFFIX_LENGTH:] if len(digits) >= CEDULA_SUFFIX_LENGTH else None


def matches_cedula_suffix(given: str | None, cedula: str | None) -> bool:
    expected = cedula_suffix(cedula)
    if expected is None or not given or len(given) != CEDULA_SUFFIX_LENGTH:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def spaced_code(code: str) -> str:
    """123456 -> "123 456", easier to read aloud."""
    return f"{code[:3]} {code[3:]}" if len(code) == CODE_LENGTH else code


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)
