"""Citizen search: accent- and case-insensitive names in any order, partial cédulas and
partial phones; LIKE wildcards in the query are literal; the trigram indexes answer it."""

from __future__ import annotations

from sqlalchemy import text

from case_core.services.citizens import CitizenData, save_citizen, search_citizens


async def _people(uow_factory):
    ids = {}
    for key, cedula, first, last, phone in (
        ("maria", "8-123-4567", "María José", "González Pérez", "6234-5678"),
        ("jose", "PE-12-345", "José", "Núñez", "+507 3456789"),
        ("yari", "4-701-1234", "Yarisel", "Saldaña", None),
        ("pct", None, "100% Real", "Ciudadano_X", None),
    ):
        ids[key] = await save_citizen(
            uow_factory,
            CitizenData(cedula=cedula, first_name=first, last_name=last, phone=phone),
        )
    return ids


async def _found(uow_factory, query):
    return [c.id for c in await search_citizens(uow_factory, query)]


async def test_names_match_without_accents_or_case_and_in_any_order(uow_factory):
    ids = await _people(uow_factory)
    assert await _found(uow_factory, "maria gonzalez") == [ids["maria"]]
    assert await _found(uow_factory, "GONZÁLEZ maría") == [ids["maria"]]
    assert await _found(uow_factory, "nunez") == [ids["jose"]]
    # "josé" is in María José's name too; sorted by last name: González before Núñez.
    assert await _found(uow_factory, "jose") == [ids["maria"], ids["jose"]]
    assert await _found(uow_factory, "saldana yar") == [ids["yari"]]
    assert await _found(uow_factory, "maria nunez") == []
    # Not the start of a word: the substring search finds it.
    assert await _found(uow_factory, "onzal") == [ids["maria"]]


async def test_partial_cedulas_and_phones_are_found(uow_factory):
    ids = await _people(uow_factory)
    assert await _found(uow_factory, "123-45") == [ids["maria"]]
    assert await _found(uow_factory, "pe-12") == [ids["jose"]]
    assert await _found(uow_factory, "701") == [ids["yari"]]
    assert await _found(uow_factory, "6234-5678") == [ids["maria"]]
    assert await _found(uow_factory, "3456789") == [ids["jose"]]  # landline digits
    assert await _found(uow_factory, "45678") == [ids["maria"], ids["jose"]]


async def test_like_wildcards_in_a_query_are_literal_and_short_queries_find_nothing(uow_factory):
    ids = await _people(uow_factory)
    assert await _found(uow_factory, "100%") == [ids["pct"]]
    assert await _found(uow_factory, "o_x") == [ids["pct"]]
    assert await _found(uow_factory, "%%%") == []
    assert await _found(uow_factory, "a_a") == []
    assert await _found(uow_factory, "ma") == []


async def test_the_trigram_indexes_serve_the_search(uow_factory):
    await _people(uow_factory)
    async with uow_factory() as uow:
        await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
        plans = []
        for sql in (
            "SELECT id FROM citizens WHERE to_tsvector('simple', cac311_fold(first_name || ' ' "
            "|| last_name)) @@ to_tsquery('simple', cac311_fold('gonz:*'))",
            "SELECT id FROM citizens WHERE cac311_fold(first_name || ' ' || last_name) "
            "LIKE '%' || cac311_fold('gonzalez') || '%'",
            "SELECT id FROM citizens WHERE cac311_fold(cedula) "
            "LIKE '%' || cac311_fold('123-4') || '%'",
            "SELECT citizen_id FROM citizen_phones WHERE cac311_fold(e164) "
            "LIKE '%' || cac311_fold('45678') || '%'",
        ):
            rows = (await uow.session.execute(text("EXPLAIN " + sql))).scalars().all()
            plans.append("\n".join(rows))
    assert "ix_citizens_name_words" in plans[0], plans[0]
    assert "ix_citizens_name_trgm" in plans[1], plans[1]
    assert "ix_citizens_cedula_trgm" in plans[2], plans[2]
    assert "ix_citizen_phones_e164_trgm" in plans[3], plans[3]
