"""Confidentiality follows every link from a call to a case (issue 15, finding 3).

For each link, an auditor may not hear or list the recording of a call linked to a
confidential case that way, and may hear it when the case linked the same way is not
confidential (so the rule is the link, not a blanket refusal).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from case_core.db.models import CallbackRow, CallRow, CaseRow, IvrSessionRow
from tests.integration.test_recordings import NOW, World, write_wav
from tests.integration.test_recordings import world as world  # noqa: F401  (fixture)

LINKS = [
    "own_call",
    "callback_leg",
    "ivr_status_query",
    "ivr_callback_session",
    "merged_duplicate",  # the call's case was merged into a confidential case
    "sensitive_case",  # the call's own case is marked sensitive (protected as confidential)
]


async def _case(w: World, *, confidential: bool, number: str, call_id=None) -> int:
    async with w.uow_factory() as uow:
        row = CaseRow(
            number=number,
            type="denuncia" if confidential else "queja",
            channel="telefono",
            status="registrado",
            entity_id=w.entity_id,
            description="caso de prueba",
            confidential=confidential,
            sla_days=10,
            opened_at=NOW - timedelta(days=9),
            due_at=NOW + timedelta(days=1),
            call_id=call_id,
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def _callback(w: World, case_id: int) -> int:
    async with w.uow_factory() as uow:
        row = CallbackRow(
            case_id=case_id,
            kind="seguimiento",
            phone="+50761234567",
            window_start_at=NOW - timedelta(days=1),
            window_end_at=NOW + timedelta(days=20),
            status="completada",
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def _linked_call(w: World, link: str, *, confidential: bool, n: int) -> int:
    uniqueid = f"17954701{n:02d}.1"
    rel = f"2026/11/25/{uniqueid}.wav"
    write_wav(w.root / rel, seconds=0.3)
    number = f"20260{n:05d}"
    # For these two links the call's own case is not confidential: the merge or the
    # sensitive mark is what must protect it.
    own_confidential = confidential and link not in ("merged_duplicate", "sensitive_case")
    case_id = await _case(w, confidential=own_confidential, number=number)
    survivor_id = (
        await _case(w, confidential=confidential, number=f"20261{n:05d}")
        if link == "merged_duplicate"
        else None
    )
    callback_id = await _callback(w, case_id) if "callback" in link else None
    async with w.uow_factory() as uow:
        call = CallRow(
            server="pbx1",
            uniqueid=uniqueid,
            linkedid=uniqueid,
            direction="outbound" if link == "callback_leg" else "inbound",
            recording_path=rel,
            started_at=NOW - timedelta(hours=1),
            ended_at=NOW - timedelta(minutes=55),  # the recordings list plays ended calls only
            agent_user_id=w.users["agente1"].user_id,
            callback_id=callback_id if link == "callback_leg" else None,
        )
        uow.session.add(call)
        await uow.session.flush()
        if link in ("own_call", "merged_duplicate", "sensitive_case"):
            case = await uow.session.get(CaseRow, case_id)
            case.call_id = call.id
            case.merged_into_case_id = survivor_id
            case.sensitive = confidential and link == "sensitive_case"
        if link.startswith("ivr_"):
            uow.session.add(
                IvrSessionRow(
                    route="inbound" if link == "ivr_status_query" else "followup",
                    uniqueid=uniqueid,
                    linkedid=uniqueid,
                    started_at=NOW - timedelta(hours=1),
                    case_number=number if link == "ivr_status_query" else None,
                    callback_id=callback_id if link == "ivr_callback_session" else None,
                )
            )
        await uow.commit()
        return call.id


@pytest.mark.parametrize("link", LINKS)
async def test_a_call_linked_to_a_confidential_case_is_hidden_from_the_auditor(world, link):
    n = LINKS.index(link) * 2 + 1
    secret = await _linked_call(world, link, confidential=True, n=n)
    plain = await _linked_call(world, link, confidential=False, n=n + 1)

    assert (await world.get(f"/grabaciones/llamada/{secret}", "auditor")).status == 403
    assert (await world.get(f"/grabaciones/llamada/{plain}", "auditor")).status == 200
    listing = await (await world.get("/grabaciones", "auditor")).text()
    assert f'/grabaciones/llamada/{secret}"' not in listing
    assert f'/grabaciones/llamada/{plain}"' in listing
    # The call's own agent and supervisors still hear it.
    assert (await world.get(f"/grabaciones/llamada/{secret}", "agente1")).status == 200
    assert (await world.get(f"/grabaciones/llamada/{secret}", "supervisor")).status == 200
