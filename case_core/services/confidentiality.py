"""Whether a call belongs to a confidential case: every link from a call to a case, here only.

A recording, a call listing or an export that must hide confidential cases asks
:func:`call_is_confidential` (one SQL expression, correlated to ``calls``), never a link of
its own. The links (issue 15, finding 3):

1. the case's own call: ``cases.call_id`` (set at registration, or when a call is attached
   to the case later: the same column);
2. a callback leg: ``calls.callback_id`` -> ``callbacks.case_id`` (a follow-up or survey call
   put through to the queue is stored as an outbound call with its callback);
3. the IVR session of the call (same ``linkedid``): the case whose status the caller asked
   for (``ivr_sessions.case_number``) or the callback it ran (``ivr_sessions.callback_id``);
4. the caller chose "denuncia" in the IVR (``CAC311_INTENT``): the case may not exist yet;
5. a merged duplicate: the call's case was merged into a confidential case
   (``cases.merged_into_case_id``).

"Confidential" here means ``confidential`` or ``sensitive``: both are protected alike.

A new link (several calls per case, say) is one more EXISTS in `_confidential_links`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import aliased

from case_core.db.models import CallbackRow, CallRow, CaseRow, IvrSessionRow


def _confidential_links(call: Any) -> list[ColumnElement[bool]]:
    """One EXISTS per link, each able to use its own index (no scan of every case)."""
    secret = aliased(CaseRow)
    # Sensitive cases (Res. 12/2017: "temas de carácter confidencial o sensible") are
    # protected exactly as confidential ones.
    hidden = secret.confidential | secret.sensitive
    own_call = exists().where(secret.call_id == call.id, hidden)
    duplicate = aliased(CaseRow)
    # A call of a duplicate that was merged into a confidential case.
    via_merge = exists(
        select(duplicate.id)
        .join(secret, secret.id == duplicate.merged_into_case_id)
        .where(duplicate.call_id == call.id, hidden)
    )
    callback = aliased(CallbackRow)
    via_callback = exists(
        select(callback.id)
        .join(secret, secret.id == callback.case_id)
        .where(callback.id == call.callback_id, hidden)
    )
    session = aliased(IvrSessionRow)
    session_callback = aliased(CallbackRow)
    via_ivr = exists(
        select(session.id)
        .outerjoin(session_callback, session_callback.id == session.callback_id)
        .join(
            secret,
            or_(secret.number == session.case_number, secret.id == session_callback.case_id),
        )
        .where(call.linkedid.is_not(None), session.linkedid == call.linkedid, hidden)
    )
    return [link.correlate(call) for link in (own_call, via_merge, via_callback, via_ivr)]


def call_is_confidential(call: Any = CallRow) -> ColumnElement[bool]:
    """SQL, correlated to ``call``: a confidential case is linked to it, or it was a denuncia."""
    denuncia = call.ivr_variables["CAC311_INTENT"].astext == "denuncia"
    return or_(*_confidential_links(call), denuncia)
