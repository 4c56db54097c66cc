"""One case per case form: the form's submission key, claimed in the registering transaction.

The claim is ``INSERT ... ON CONFLICT DO NOTHING`` on ``(user_id, key)``: a second request
with the same key waits on the first one's row lock, then finds the key taken and returns
the first case instead of registering another (a double click, a retry, the back button).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models.desk import CaseSubmissionRow
from case_core.domain.errors import DomainError

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def check_submission_key(key: str) -> str:
    """The key as given, if it looks like one the form generates."""
    if not _KEY_RE.match(key or ""):
        raise DomainError("El formulario no es válido; recargue la página.")
    return key


async def claim_submission(
    session: AsyncSession, *, user_id: int, key: str, now: datetime
) -> int | None:
    """Claim ``key`` for ``user_id``: None if it is ours now, else the case registered
    under it earlier."""
    claimed = await session.scalar(
        insert(CaseSubmissionRow)
        .values(user_id=user_id, key=check_submission_key(key), created_at=now)
        .on_conflict_do_nothing()
        .returning(CaseSubmissionRow.key)
    )
    if claimed is not None:
        return None
    case_id = await session.scalar(
        select(CaseSubmissionRow.case_id).where(
            CaseSubmissionRow.user_id == user_id, CaseSubmissionRow.key == key
        )
    )
    if case_id is None:  # only if the claimer rolled back between our insert and select
        raise DomainError("El caso se está guardando; espere un momento.")
    return case_id


async def record_submission(
    session: AsyncSession, *, user_id: int, key: str, case_id: int
) -> None:
    """Link the claimed key to the case just registered (same transaction)."""
    await session.execute(
        update(CaseSubmissionRow)
        .where(CaseSubmissionRow.user_id == user_id, CaseSubmissionRow.key == key)
        .values(case_id=case_id)
    )
