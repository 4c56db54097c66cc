"""Phone numbers: Panamanian numbers normalised to E.164 (``+507`` and 7 or 8 digits).

Mobiles have 8 digits starting with 6; fixed lines have 7 digits. Numbers of other countries
are kept when given in international form (``+`` or ``00``), so a caller from abroad can
still be called back.
"""

from __future__ import annotations

import re

from case_core.domain.errors import InvalidPhone

COUNTRY_CODE = "507"


def normalise_phone(text: str) -> str:
    """Return the E.164 form of a phone number or raise InvalidPhone."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidPhone("El teléfono está vacío.")
    if re.search(r"[^\d\s+().\-]", raw):
        raise InvalidPhone("El teléfono solo puede tener dígitos, espacios, guiones y +.")
    international = raw.startswith("+") or raw.startswith("00")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("00"):
        digits = digits[2:]
    if international or (digits.startswith(COUNTRY_CODE) and len(digits) in (10, 11)):
        if digits.startswith(COUNTRY_CODE):
            return "+" + COUNTRY_CODE + _national(digits[len(COUNTRY_CODE) :])
        if not 8 <= len(digits) <= 15:
            raise InvalidPhone("Un número internacional debe tener de 8 a 15 dígitos.")
        return "+" + digits
    return "+" + COUNTRY_CODE + _national(digits)


def _national(digits: str) -> str:
    if len(digits) == 8 and digits.startswith("6"):
        return digits
    if len(digits) == 7 and digits[0] in "2345789":
        return digits
    if len(digits) == 8:
        raise InvalidPhone("Un celular de Panamá tiene 8 dígitos y empieza por 6.")
    raise InvalidPhone("Un teléfono de Panamá tiene 7 dígitos (fijo) u 8 dígitos (celular).")


def is_mobile(e164: str) -> bool:
    """True for a Panamanian mobile number."""
    return e164.startswith("+5076") and len(e164) == 12


def caller_id_candidates(caller_number: str) -> list[str]:
    """E.164 forms a caller ID may stand for (empty when it is withheld or unusable)."""
    try:
        return [normalise_phone(caller_number)]
    except InvalidPhone:
        return []
