"""Which numbers the Centro de Contactos may call back (issue 15, finding 5).

Only numbers of an allowed country code (Panama, ``+507``, unless configured otherwise) that
its numbering plan gives to fixed lines or mobiles: never toll-free, premium-rate, shared-cost,
satellite (``+882``), personal or unassigned ranges, which a dialer must not call at public
expense. The ranges come from Google's libphonenumber metadata (the ``phonenumbers``
package), kept up to date with the regulators' plans (for Panama: ASEP).
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from phonenumbers import PhoneNumberType

from case_core.domain.errors import InvalidPhone

DEFAULT_CALLBACK_PREFIXES: tuple[str, ...] = ("+507",)
_CALLABLE = {
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def callback_refusal(
    e164: str, prefixes: Sequence[str] = DEFAULT_CALLBACK_PREFIXES
) -> str | None:
    """Why ``e164`` may not be called back (a Spanish sentence), or None when it may."""
    if not any(e164.startswith(prefix) for prefix in prefixes):
        if prefixes == DEFAULT_CALLBACK_PREFIXES:
            return "Solo se devuelven llamadas a teléfonos de Panamá (+507)."
        return "Solo se devuelven llamadas a teléfonos de los países permitidos."
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "El número no es un teléfono válido."
    if not phonenumbers.is_valid_number(number):
        return "El número no pertenece al plan de numeración: revise los dígitos."
    if phonenumbers.number_type(number) not in _CALLABLE:
        return (
            "Solo se devuelven llamadas a teléfonos fijos o celulares; "
            "no a números gratuitos, de tarifa especial ni satelitales."
        )
    return None


def may_call_back(e164: str, prefixes: Sequence[str] = DEFAULT_CALLBACK_PREFIXES) -> bool:
    """True when the dialer may call ``e164``."""
    return callback_refusal(e164, prefixes) is None


def check_callback_number(
    e164: str, prefixes: Sequence[str] = DEFAULT_CALLBACK_PREFIXES
) -> None:
    """Raise InvalidPhone (Spanish message) when ``e164`` may not be called back."""
    refusal = callback_refusal(e164, prefixes)
    if refusal is not None:
        raise InvalidPhone(f"Teléfono de contacto no admitido: {refusal}")
