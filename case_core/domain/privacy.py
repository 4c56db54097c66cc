"""Keyed hashes that stand in for personal data we must not keep (issue 15, finding 12).

The number of a caller who chose an anonymous denuncia is kept only as
``HMAC-SHA256(key, E.164 number)``: the same caller gives the same hash (abuse detection,
repeat-caller counts) in ``calls`` and ``ivr_sessions`` alike, and without the key (which
lives outside the database) the hash cannot be turned back into the number, although the
numbering plan is small enough to enumerate.
"""

from __future__ import annotations

import hashlib
import hmac

from case_core.domain.phone import caller_id_candidates


def caller_hash(caller_id: str | None, key: bytes | None) -> str | None:
    """Hex HMAC of the caller's number in E.164 (as sent when it is not a phone number);
    None when there is no number or no key."""
    if not caller_id or not key:
        return None
    candidates = caller_id_candidates(caller_id)
    number = candidates[0] if candidates else caller_id.strip()
    return hmac.new(key, number.encode("utf-8"), hashlib.sha256).hexdigest()
