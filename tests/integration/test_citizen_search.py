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


async def _named(uow_factory, *names):
    ids = []
    for first, last in names:
        ids.append(
            await save_citizen(
                uow_factory, CitizenData(cedula=None, first_name=first, last_name=last)
            )
        )
    return ids


async def test_given_several_words_when_all_but_the_last_are_whole_words_then_the_pairs_answer(
    uow_factory,
):
    maria, marianela, maria_ruiz, ana = await _named(
        uow_factory,
        ("María José", "González Pérez"),
        ("Marianela", "González Ruiz"),
        ("María", "Ruiz Gómez"),
        ("Ana", "González Ortega"),
    )
    # Whole words in any order, accents and case ignored, the last word cut short.
    assert await _found(uow_factory, "maria gonzalez") == [maria]
    # The last word is a prefix: Marianela González too.
    assert await _found(uow_factory, "GONZÁLEZ maría") == [maria, marianela]
    assert await _found(uow_factory, "maria gonz") == [maria]
    assert await _found(uow_factory, "jose gonzalez per") == [maria]
    assert await _found(uow_factory, "perez jose maria") == [maria]
    # Exact words first: Marianela matches "maria" only as a prefix, María Ruiz has no González.
    assert await _found(uow_factory, "maria ruiz") == [maria_ruiz]
    # Nobody has both words: people with one of them are not listed.
    assert await _found(uow_factory, "ana perez") == []
    assert await _found(uow_factory, "ortega ruiz") == []
    # A cut-short word before the last: the pairs find no one, word prefixes do.
    assert await _found(uow_factory, "mari gonz") == [maria, marianela]
    assert await _found(uow_factory, "gonz mari") == [maria, marianela]
    # A word typed twice counts once.
    assert await _found(uow_factory, "ana ana") == [ana]
    (luis,) = await _named(uow_factory, ("Luis", "Pérez Pérez"))
    assert await _found(uow_factory, "luis perez perez") == [luis]
    assert await _found(uow_factory, "perez perez luis") == [luis]


async def test_given_punctuation_or_tsquery_syntax_when_searching_then_it_is_literal(uow_factory):
    obrien, maria = await _named(uow_factory, ("Seán", "O'Brien"), ("María", "González"))
    assert await _found(uow_factory, "o'brien") == [obrien]
    assert await _found(uow_factory, "sean o'brien") == [obrien]
    assert await _found(uow_factory, "SEÁN O'BRI") == [obrien]
    for query in (
        "a&b",
        "maria a&b",
        "maria :*",
        "maria gonz:*",
        "maria !",
        "!maria gonzalez",
        "maria \\",
        "\\\\\\",
        "maria %",
        "maria ' gonzalez",
        "maria 'gonzalez",
        "maria ŉgonz",  # folds to "'ngonz": a quote inside the pair lexeme
        "maria ½",  # folds to "1/2"
        "maria | gonzalez",
        "maria <-> gonzalez",
        "(maria) gonzalez",
    ):
        found = await _found(uow_factory, query)
        assert set(found) <= {maria}, (query, found)
    assert await _found(uow_factory, "maria (gonzalez)") == [maria]


async def test_given_a_word_alone_when_enough_names_begin_with_it_then_those_are_listed(
    uow_factory,
):
    async with uow_factory() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO citizens (first_name, last_name, callback_consent, created_at) "
                "SELECT 'Ana ' || i, 'Samudio ' || i, true, now() FROM generate_series(1, 25) i "
                "UNION ALL SELECT 'Itzel ' || i, 'Pérez', true, now() "
                "FROM generate_series(1, 25) i"
            )
        )
        await uow.commit()
    first, second_given, second_surname = await _named(
        uow_factory,
        ("Samudio", "Barría"),
        ("Luz Samudio", "Aguilar"),
        ("Luz", "Aguilar Samudio"),
    )
    # Sorted by last name, the last two would come first: they have "samudio" only as a second
    # given name or a second surname, and 25 last names (and a first name) begin with it.
    found = await _found(uow_factory, "SAMUDIO")
    assert len(found) == 20 and first in found, found
    assert second_given not in found and second_surname not in found, found
    assert len(await _found(uow_factory, "ítzel")) == 20
    # Fewer than 20 names begin with it: every word of the name counts, as before.
    assert await _found(uow_factory, "luz") == [second_given, second_surname]
    assert await _found(uow_factory, "barria") == [first]


async def test_the_pair_and_name_start_indexes_serve_the_search(uow_factory):
    from case_core.db.citizen_search import _WORD_ALONE, _pairs

    await _people(uow_factory)
    async with uow_factory() as uow:
        await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
        params: dict[str, object] = {"cand": 200, "tsq": "maria:* & gonz:*"}
        pairs = _pairs(["maria", "gonz"], params)
        plan_pairs = "\n".join(
            (await uow.session.execute(text("EXPLAIN " + pairs), params)).scalars()
        )
        plan_alone = "\n".join(
            (
                await uow.session.execute(
                    text("EXPLAIN " + _WORD_ALONE), {"sn": "gonz", "cand": 200}
                )
            ).scalars()
        )
        assert (await uow.session.scalars(text(pairs), params)).all() != [], (
            "the pair query finds María José González"
        )
    assert "ix_citizens_name_pairs" in plan_pairs, plan_pairs
    assert "ix_citizens_name_words" not in plan_pairs, plan_pairs
    assert "ix_citizens_last_name_fold" in plan_alone, plan_alone
    assert "ix_citizens_first_name_fold" in plan_alone, plan_alone
    # Read in index order, stopping at the candidates kept: no sort of the folded names.
    assert "Sort Key: (cac311_fold" not in plan_alone, plan_alone


async def test_given_enough_people_with_the_last_word_whole_then_prefix_matches_are_not_listed(
    uow_factory,
):
    async with uow_factory() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO citizens (first_name, last_name, callback_consent, created_at) "
                "SELECT 'Ana', 'Mora ' || i, true, now() FROM generate_series(1, 22) i"
            )
        )
        await uow.commit()
    (morales,) = await _named(uow_factory, ("Ana", "Aguilar Morales"))
    # Sorted by last name "Aguilar Morales" would come first; 22 people have "mora" whole.
    found = await _found(uow_factory, "ana mora")
    assert len(found) == 20 and morales not in found, found
    # Cut short, the last word is a prefix.
    assert (await _found(uow_factory, "ana mor"))[0] == morales
    assert await _found(uow_factory, "ana morales") == [morales]
