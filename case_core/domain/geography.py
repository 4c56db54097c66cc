"""Provinces, comarcas and districts of Panama: where a case happened (issue 15, finding 8).

Free text here ended up as live spreadsheet formulas in the exports and as one-case cells
in the open data; so a case's (and a citizen's) province and district must be one of the
official list below, stored under its official spelling whatever the accents or case typed.

Source: the 81 districts of the 10 provinces and the 2 comarcas that have districts, as
listed by INEC's 2023 census tables and Wikipedia's "Anexo:Distritos de Panamá" /
"Districts of Panama" (checked 2026-12-01). Guna Yala and Naso Tjër Di are comarcas
without districts. Corregimientos (about 700, changed by law every few years) are NOT
validated against a list: no source could be had reliably here, so a corregimiento is only
checked for its shape (letters, digits, spaces and . ' - ( ), starting with a letter or
digit, at most 80 characters).
"""

from __future__ import annotations

import re
import unicodedata

from case_core.domain.errors import DomainError

DISTRICTS: dict[str, tuple[str, ...]] = {
    "Bocas del Toro": ("Almirante", "Bocas del Toro", "Changuinola", "Chiriquí Grande"),
    "Chiriquí": (
        "Alanje",
        "Barú",
        "Boquerón",
        "Boquete",
        "Bugaba",
        "David",
        "Dolega",
        "Gualaca",
        "Remedios",
        "Renacimiento",
        "San Félix",
        "San Lorenzo",
        "Tierras Altas",
        "Tolé",
    ),
    "Coclé": ("Aguadulce", "Antón", "La Pintada", "Natá", "Olá", "Penonomé"),
    "Colón": ("Chagres", "Colón", "Donoso", "Omar Torrijos Herrera", "Portobelo", "Santa Isabel"),
    "Darién": ("Chepigana", "Pinogana", "Santa Fe"),
    "Herrera": ("Chitré", "Las Minas", "Los Pozos", "Ocú", "Parita", "Pesé", "Santa María"),
    "Los Santos": (
        "Guararé",
        "Las Tablas",
        "Los Santos",
        "Macaracas",
        "Pedasí",
        "Pocrí",
        "Tonosí",
    ),
    "Panamá": ("Balboa", "Chepo", "Chimán", "Panamá", "San Miguelito", "Taboga"),
    "Panamá Oeste": ("Arraiján", "Capira", "Chame", "La Chorrera", "San Carlos"),
    "Veraguas": (
        "Atalaya",
        "Calobre",
        "Cañazas",
        "La Mesa",
        "Las Palmas",
        "Mariato",
        "Montijo",
        "Río de Jesús",
        "San Francisco",
        "Santa Fe",
        "Santiago",
        "Soná",
    ),
    "Emberá-Wounaan": ("Cémaco", "Sambú"),
    "Ngäbe-Buglé": (
        "Besikó",
        "Jirondai",
        "Kankintú",
        "Kusapín",
        "Mironó",
        "Müna",
        "Nole Duima",
        "Ñürüm",
        "Santa Catalina o Calovébora",
    ),
    "Guna Yala": (),
    "Naso Tjër Di": (),
}

_CORREGIMIENTO = re.compile(r"^[\w][\w .'()\-]{0,79}$")


def fold(text: str) -> str:
    """Accent-, case- and space-insensitive key (``Panama  oeste`` == ``Panamá Oeste``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().replace("-", " ").split())


_PROVINCES = {fold(p): p for p in DISTRICTS}
_DISTRICTS = {p: {fold(d): d for d in ds} for p, ds in DISTRICTS.items()}
# Common other names of the same places.
_PROVINCES.update({fold("Kuna Yala"): "Guna Yala", fold("Ngöbe-Buglé"): "Ngäbe-Buglé"})
_PROVINCES.update({fold("Emberá"): "Emberá-Wounaan", fold("Comarca Emberá"): "Emberá-Wounaan"})


def canonical_location(
    province: str | None, district: str | None, corregimiento: str | None
) -> tuple[str | None, str | None, str | None]:
    """The official spelling of a province and district, and a checked corregimiento.

    Each may be empty (unknown); a district needs its province. Raises DomainError with a
    Spanish message when a name is not in the official list.
    """
    province = (province or "").strip() or None
    district = (district or "").strip() or None
    corregimiento = " ".join((corregimiento or "").split()) or None
    official_province = None
    if province is not None:
        official_province = _PROVINCES.get(fold(province))
        if official_province is None:
            raise DomainError(f"«{province[:60]}» no es una provincia ni comarca de Panamá.")
    official_district = None
    if district is not None:
        if official_province is None:
            raise DomainError("Indique la provincia del distrito.")
        official_district = _DISTRICTS[official_province].get(fold(district))
        if official_district is None:
            raise DomainError(f"«{district[:60]}» no es un distrito de {official_province}.")
    if corregimiento is not None and not _CORREGIMIENTO.match(corregimiento):
        raise DomainError("El corregimiento solo puede tener letras, números y espacios.")
    return official_province, official_district, corregimiento


def is_official_district(province: str | None, district: str | None) -> bool:
    """True when ``district`` is spelled as in the official list, in ``province``."""
    return province in DISTRICTS and district in DISTRICTS[province]
