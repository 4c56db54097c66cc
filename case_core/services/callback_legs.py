"""Which FastAGI callback sessions to trust (issue 15, findings 2 and 11).

Anyone who reaches the FastAGI port can claim to be a callback leg: the AGI environment and
every channel variable are whatever the peer says. A session is trusted only when it is the
leg the dialer is dialling now:

- the callback exists (an unknown ``CAC311_CALLBACK_ID`` is ``UNKNOWN``: refused, never an
  IntegrityError);
- its kind is the route's kind and the ``CAC311_CALLBACK_KIND`` the Originate set;
- ``CAC311_CALLBACK_TOKEN`` equals the random token written when the attempt was claimed
  (sent only in that Originate's variables);
- the AGI channel's uniqueid is the one the OriginateResponse of that attempt reported, the
  attempt was answered (``en_curso`` until the dialer records the answer, then ``completada``
  with outcome ``answered``) not more than `LEG_MAX_AGE` ago;
- no other session has taken that leg yet (one session per answered leg).

Until the dialer has recorded the OriginateResponse (it arrives just before the AGI starts,
see ``2026-12-01/ami-callback-leg-to-queue``), a session with the right token gets ``WAIT``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from case_core.db.models import CallbackRow
from case_core.db.uow import UnitOfWorkFactory

#: How long after the answer a leg may start its FastAGI session.
LEG_MAX_AGE = timedelta(minutes=5)


class LegCheck(StrEnum):
    OK = "ok"
    WAIT = "esperar"
    UNKNOWN = "desconocida"
    REFUSED = "rechazada"


@dataclass(frozen=True)
class LegVerdict:
    check: LegCheck
    reason: str = ""


async def authenticate_callback_leg(
    uow_factory: UnitOfWorkFactory,
    *,
    callback_id: int,
    kind: str,
    token: str,
    uniqueid: str,
    now: datetime,
    max_age: timedelta = LEG_MAX_AGE,
) -> LegVerdict:
    """Decide whether a FastAGI session is the live leg of ``callback_id``; take it if so."""
    if not -(2**63) <= callback_id < 2**63:
        return LegVerdict(LegCheck.UNKNOWN, "id")
    async with uow_factory() as uow:
        row = (
            await uow.session.execute(
                select(CallbackRow).where(CallbackRow.id == callback_id).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return LegVerdict(LegCheck.UNKNOWN, "id")
        verdict = _judge(row, kind=kind, token=token, uniqueid=uniqueid, now=now, max_age=max_age)
        if verdict.check is LegCheck.OK:
            row.leg_used_at = now
            await uow.commit()
        return verdict


def _judge(
    row: CallbackRow, *, kind: str, token: str, uniqueid: str, now: datetime, max_age: timedelta
) -> LegVerdict:
    if row.kind != kind:
        return LegVerdict(LegCheck.REFUSED, "kind")
    if not row.leg_token or not hmac.compare_digest(row.leg_token.encode(), token.encode()):
        return LegVerdict(LegCheck.REFUSED, "token")
    if row.leg_used_at is not None:
        return LegVerdict(LegCheck.REFUSED, "used")
    if row.leg_uniqueid is None:
        if row.status == "en_curso":
            return LegVerdict(LegCheck.WAIT, "not answered yet")
        return LegVerdict(LegCheck.REFUSED, "not dialled")
    if not uniqueid or row.leg_uniqueid != uniqueid:
        return LegVerdict(LegCheck.REFUSED, "channel")
    if row.status not in ("en_curso", "completada") or row.outcome != "answered":
        return LegVerdict(LegCheck.REFUSED, "status")
    if row.leg_answered_at is None or now - row.leg_answered_at > max_age:
        return LegVerdict(LegCheck.REFUSED, "stale")
    return LegVerdict(LegCheck.OK)
