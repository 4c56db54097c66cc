"""Service search (accents, synonyms, trigram indexes) and idempotent case registration,
against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from case_core.db.models import CaseRow
from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor, Role
from case_core.services.cases import register_case
from tests.integration.test_cases_db import _command, _ids

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


async def _search(uow_factory, query: str) -> list[tuple[str, str]]:
    async with uow_factory() as uow:
        found = await uow.directory.search_services(query)
    return [(entity.code, service.code) for service, entity in found]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("semaforo", ("ATTT", "semaforos")),
        ("SEMÁFOROS", ("ATTT", "semaforos")),
        ("tuberia", ("IDAAN", "fuga")),
        ("cedula", ("TE", "cedula")),
        ("pasaporte", ("MIRE", "consular")),
        ("basura", ("AAUD", "recoleccion")),
        ("recoleccion basura", ("AAUD", "recoleccion")),
        ("dengue", ("MINSA", "criaderos")),
        ("apagon", ("ASEP", "electricidad")),
        ("semafro", ("ATTT", "semaforos")),  # a typo: trigram similarity
    ],
)
async def test_given_the_directory_when_an_agent_types_without_accents_or_a_synonym_then_the_service_is_found(  # noqa: E501
    seeded, typed, expected
):
    assert expected in await _search(seeded, typed)


async def test_given_basura_then_aaud_waste_collection_is_among_the_first(seeded):
    found = await _search(seeded, "basura")
    assert found.index(("AAUD", "recoleccion")) < 3


async def test_given_like_wildcards_in_the_query_then_they_match_literally(seeded):
    assert await _search(seeded, "%%") == []
    assert await _search(seeded, "a_u") == []


async def test_given_the_fold_trigram_indexes_then_the_planner_can_use_them(seeded):
    async with seeded() as uow:
        await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            (
                await uow.session.execute(
                    text(
                        "EXPLAIN SELECT id FROM services "
                        "WHERE cac311_fold(synonyms) LIKE cac311_fold('%basura%')"
                    )
                )
            ).scalars()
        )
    assert "ix_services_synonyms_fold_trgm" in plan


async def test_given_one_form_key_when_it_is_sent_twice_at_once_then_one_case_is_registered(
    seeded, panama
):
    entity_id, service_id, agent_id = await _ids(seeded)
    actor = Actor(agent_id, "agente1", Role.AGENT)
    command = _command(entity_id, service_id, submission_key="k" * 24)
    first, second = await asyncio.gather(
        register_case(seeded, command, actor=actor, now=NOW, tz=panama),
        register_case(seeded, command, actor=actor, now=NOW, tz=panama),
    )
    assert first.id == second.id and first.number == second.number
    assert sorted([first.repeat, second.repeat]) == [False, True]
    again = await register_case(seeded, command, actor=actor, now=NOW, tz=panama)
    assert again.id == first.id and again.repeat
    async with seeded() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(CaseRow)) == 1
    other = await register_case(
        seeded,
        _command(entity_id, service_id, submission_key="m" * 24),
        actor=actor,
        now=NOW,
        tz=panama,
    )
    assert other.id != first.id


async def test_given_a_malformed_form_key_then_the_registration_is_refused(seeded, panama):
    entity_id, service_id, agent_id = await _ids(seeded)
    with pytest.raises(DomainError):
        await register_case(
            seeded,
            _command(entity_id, service_id, submission_key="short"),
            actor=Actor(agent_id, "agente1", Role.AGENT),
            now=NOW,
            tz=panama,
        )


async def test_given_a_directory_seeded_without_synonyms_when_seeded_again_then_they_are_filled(
    seeded,
):
    from sqlalchemy import update

    from case_core.db.models import ServiceRow
    from case_core.seed.loader import seed

    async with seeded() as uow:
        await uow.session.execute(update(ServiceRow).values(synonyms=""))
        await uow.commit()
    assert ("AAUD", "recoleccion") not in await _search(seeded, "basura")
    await seed(seeded, now=NOW)
    assert ("AAUD", "recoleccion") in await _search(seeded, "basura")
