"""Panamanian cédula (personal identity number) parsing and normalisation.

Formats issued by the Tribunal Electoral, all ``PREFIX-TOMO-ASIENTO``:

* ``8-123-4567``     Panamanian born in province 8 (provinces and comarcas 1..13)
* ``1AV-12-345``     born in province 1, registered before the current system (antes de la vigencia)
* ``1PI-12-345``     born in province 1, indigenous population register (población indígena)
* ``PE-12-345``      Panamanian born abroad (panameño nacido en el extranjero)
* ``E-8-123456``     foreign resident (extranjero)
* ``N-12-345``       naturalised Panamanian

Tomo has 1..4 digits and asiento 1..6 digits; leading zeros are dropped when normalising
(``08-0123-004567`` is ``8-123-4567``). On a phone keypad the caller keys ``*`` for each dash
and ``#`` to finish: only the all-digit form (``8*123*4567``) can be keyed, so cédulas with
letters are taken by an agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from case_core.domain.errors import InvalidCedula

PROVINCES: dict[int, str] = {
    1: "Bocas del Toro",
    2: "Coclé",
    3: "Colón",
    4: "Chiriquí",
    5: "Darién",
    6: "Herrera",
    7: "Los Santos",
    8: "Panamá",
    9: "Veraguas",
    10: "Guna Yala",
    11: "Emberá-Wounaan",
    12: "Ngäbe-Buglé",
    13: "Panamá Oeste",
}

_SHAPE = re.compile(
    r"^(?:(?P<prov>\d{1,2})(?P<suffix>AV|PI)?|(?P<letters>PE|E|N))-(?P<tomo>\d{1,4})-(?P<asiento>\d{1,6})$"
)


@dataclass(frozen=True, order=True)
class Cedula:
    """A valid cédula in its canonical form."""

    prefix: str
    tomo: int
    asiento: int

    def __str__(self) -> str:
        return f"{self.prefix}-{self.tomo}-{self.asiento}"

    @property
    def province(self) -> int | None:
        """Province of birth (1..13) when the prefix names one."""
        digits = self.prefix.rstrip("AVPI")
        return int(digits) if digits.isdigit() else None

    @property
    def dtmf(self) -> str | None:
        """The keypad form (``8*123*4567``), or None when the cédula has letters."""
        if not self.prefix.isdigit():
            return None
        return f"{self.prefix}*{self.tomo}*{self.asiento}"


def parse_cedula(text: str) -> Cedula:
    """Parse a cédula as written by a person; raise InvalidCedula saying what is wrong."""
    if text is None or not str(text).strip():
        raise InvalidCedula("La cédula está vacía.")
    cleaned = re.sub(r"\s+", "", str(text)).upper().replace("–", "-").replace("—", "-")
    parts = cleaned.split("-")
    if len(parts) != 3:
        raise InvalidCedula(
            "La cédula debe tener tres partes separadas por guiones, por ejemplo 8-123-4567."
        )
    match = _SHAPE.match(cleaned)
    if not match:
        prefix = parts[0]
        if not re.fullmatch(r"\d{1,2}(AV|PI)?|PE|E|N", prefix):
            raise InvalidCedula(
                f"El prefijo «{prefix}» no es válido: use una provincia (1 a 13), "
                "o PE, E, N, o la provincia seguida de AV o PI."
            )
        if not re.fullmatch(r"\d{1,4}", parts[1]):
            raise InvalidCedula("El tomo debe tener de 1 a 4 dígitos.")
        raise InvalidCedula("El asiento debe tener de 1 a 6 dígitos.")
    if match["prov"] is not None:
        province = int(match["prov"])
        if not 1 <= province <= 13:
            raise InvalidCedula(f"La provincia {province} no existe: debe ser de 1 a 13.")
        prefix = f"{province}{match['suffix'] or ''}"
    else:
        prefix = match["letters"]
    tomo, asiento = int(match["tomo"]), int(match["asiento"])
    if tomo == 0:
        raise InvalidCedula("El tomo no puede ser cero.")
    if asiento == 0:
        raise InvalidCedula("El asiento no puede ser cero.")
    return Cedula(prefix, tomo, asiento)


def parse_dtmf_cedula(keys: str) -> Cedula:
    """Parse the keypad form (``8*123*4567``, an optional trailing ``#`` is ignored)."""
    keys = (keys or "").strip().rstrip("#")
    if not keys:
        raise InvalidCedula("No se marcó ninguna cédula.")
    if not re.fullmatch(r"[0-9*]+", keys):
        raise InvalidCedula("La cédula marcada solo puede tener dígitos y asteriscos.")
    return parse_cedula(keys.replace("*", "-"))
