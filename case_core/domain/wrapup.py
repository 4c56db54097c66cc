"""Wrap-up (after-call work) codes: every interaction is documented, with or without a case."""

from __future__ import annotations

from enum import StrEnum


class WrapupCode(StrEnum):
    CASE_REGISTERED = "caso_registrado"
    INFORMATION_ONLY = "solo_informacion"
    WRONG_NUMBER = "numero_equivocado"
    DROPPED = "llamada_cortada"
    PRANK = "broma"
    TRANSFERRED = "transferida"
    OTHER = "otro"


WRAPUP_LABELS: dict[WrapupCode, str] = {
    WrapupCode.CASE_REGISTERED: "Caso registrado",
    WrapupCode.INFORMATION_ONLY: "Solo información",
    WrapupCode.WRONG_NUMBER: "Número equivocado",
    WrapupCode.DROPPED: "Llamada cortada",
    WrapupCode.PRANK: "Broma",
    WrapupCode.TRANSFERRED: "Transferida",
    WrapupCode.OTHER: "Otro (explique en la nota)",
}
