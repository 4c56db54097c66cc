"""Government entities, their services and announcements (afectaciones)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class EntityKind(StrEnum):
    MINISTERIO = "ministerio"
    AUTONOMA = "autonoma"  # autonomous and decentralised entities (IDAAN, CSS, ATTT, ...)
    MUNICIPIO = "municipio"
    OTRA = "otra"


def announcement_active(valid_from: datetime, valid_to: datetime | None, now: datetime) -> bool:
    """An announcement plays from ``valid_from`` until ``valid_to`` (open-ended when None)."""
    return valid_from <= now and (valid_to is None or now < valid_to)
