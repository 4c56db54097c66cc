"""Citizen search over millions of rows: names, partial cédulas and partial phone numbers.

Every comparison is ``cac311_fold(column) LIKE '%' || cac311_fold(term) || '%'``, which the
GIN trigram indexes of migration 0010_citizen_search answer (the expressions here must stay
exactly those of the indexes). A query is read as:

- **digits** (with ``-``, spaces, ``+``, parentheses; optionally a cédula prefix such as
  ``PE-`` or ``E-8``): a partial cédula as typed, *or* a partial phone (its digits only);
- **anything else**: name words, each of which must begin a word of "first last" (accents
  and case ignored, in any order: "maria gonz"), by the full-text index; when that finds no
  one, each word must appear anywhere in the name ("onzal"), by the trigram index.

Several name words: exact words first. Over 2 M citizens the word index answers "maria
gonzalez" by ANDing every María with every González (66 k and 50 k entries): about 20 ms of
CPU however few people match. So a query of two or more plain words (letters and digits) is
first read the way agents type names: every word but the last is a *complete* word of the
name, the last may be cut short ("maria gonz", "gonzalez maria", "maria jose gonz"). The pair
index of migration 0012_citizen_name_pairs holds one lexeme per ordered pair of distinct
words of each name ("maria>gonzalez" and "gonzalez>maria"), so ``'maria>gonz':*`` reads one
short posting list; the word-prefix condition is checked on what it returns, so everyone
listed matches every word as before. The last word is first taken whole, then (when fewer
than ``limit`` people have it whole) as a prefix. Only when that finds nobody (a word before
the last cut short, "mari gonz"; punctuation such as "o'brien") does the search fall back to
word prefixes, then substrings. The consequence, chosen on purpose: when enough people have
the typed words as whole words, those who have them only as prefixes are not listed
("Marianela González" for "maria gonzalez"; "María Morales" for "maria mora" when at least
``limit`` María Mora exist).

One word: surnames and first names first. A plain word alone is most often a surname
("samudio") or a given name ("maria"); when at least ``limit`` people have a last name or a
first name (its first word, then) that begins with it, those are listed (the first
``CANDIDATES`` of each in folded order, from two btrees of migration 0012), and people who
have it only as a second given name or a second surname are not; otherwise the search runs
as above.

A broad query (a common first name) can match a hundred thousand people: the index finds
them, but only the first ``CANDIDATES`` found are sorted and the first ``limit`` returned,
so the cost stays bounded; the agent narrows the search with a second word or the cédula.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CANDIDATES = 200
_WORD = re.compile(r"[\W_]", re.UNICODE)  # what may not go into a tsquery word
_NUMERIC = re.compile(r"^(?:[A-Za-z]{1,3}-?)?[\d\s\-+()]+$")
_PLAIN_WORD = re.compile(r"^[^\W_]+$", re.UNICODE)  # letters and digits: one parser token


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped


def _terms(query: str) -> tuple[str, list[str]]:
    """('numeric', [cedula_term, phone_digits]) or ('name', words)."""
    q = " ".join(query.split())
    if _NUMERIC.match(q) and any(ch.isdigit() for ch in q):
        return "numeric", [q.replace(" ", ""), re.sub(r"\D", "", q)]
    return "name", [w for w in q.split(" ") if w]


_FOLD_LIKE = "LIKE '%' || cac311_fold(CAST(:{p} AS text)) || '%' ESCAPE '\\'"


async def search_citizen_ids(
    session: AsyncSession, query: str, *, limit: int = 20
) -> Sequence[int]:
    """Ids of the citizens matching ``query``, by last name then first name."""
    kind, terms = _terms(query)
    params: dict[str, object] = {"cand": CANDIDATES, "limit": limit}
    if kind == "numeric":
        cedula, digits = terms
        params["ced"] = _like(cedula)
        parts = [
            f"SELECT c.id FROM citizens c WHERE cac311_fold(c.cedula) {_FOLD_LIKE.format(p='ced')}"
        ]
        if len(digits) >= 3:
            params["tel"] = _like(digits)
            parts.append(
                "SELECT p.citizen_id FROM citizen_phones p "
                f"WHERE cac311_fold(p.e164) {_FOLD_LIKE.format(p='tel')}"
            )
        candidates = " UNION ".join(f"({part} LIMIT :cand)" for part in parts)
    else:
        words = [w for w in terms if len(w) >= 2][:5] or terms[:1]
        prefixes = [_WORD.sub("", w) for w in words]
        if all(prefixes):
            params["tsq"] = " & ".join(f"{p}:*" for p in prefixes)
            # A word typed twice ("perez perez") is one pair word: a name has no pair of a
            # word with itself, and every word must begin a word of the name anyway.
            distinct = list(dict.fromkeys(w.casefold() for w in words))
            plain = all(_PLAIN_WORD.match(w) for w in distinct)
            if plain and len(distinct) >= 2:
                # The last word whole first ("maria mora": not every María Morales too).
                found = await _ordered(session, _pairs(distinct, params, prefix=False), params)
                if len(found) < limit:
                    found = await _ordered(session, _pairs(distinct, params), params)
                if found:
                    return found
            elif plain:
                params["sn"] = distinct[0]
                found = await _ordered(session, _WORD_ALONE, params)
                if len(found) >= limit:
                    return found
            found = await _ordered(
                session, f"SELECT c.id FROM citizens c WHERE {_PREFIXES} LIMIT :cand", params
            )
            if found:
                return found
        conds = []
        for i, word in enumerate(words):
            params[f"w{i}"] = _like(word)
            conds.append(
                f"cac311_fold(c.first_name || ' ' || c.last_name) {_FOLD_LIKE.format(p=f'w{i}')}"
            )
        candidates = f"SELECT c.id FROM citizens c WHERE {' AND '.join(conds)} LIMIT :cand"
    return await _ordered(session, candidates, params)


# Every word begins a word of the name (the expression of ix_citizens_name_words).
_PREFIXES = (
    "to_tsvector('simple', cac311_fold(c.first_name || ' ' || c.last_name)) "
    r"@@ to_tsquery('simple', translate(cac311_fold(CAST(:tsq AS text)), '''\', ''))"
)
# The last name, or the first name, begins with the word: ranges of the btrees
# ix_citizens_last_name_fold and ix_citizens_first_name_fold (ranges, not LIKE, so that a
# generic plan of the prepared statement still uses them), each read in index order and only
# as far as the candidates kept. Everyone found matches ``_PREFIXES`` too.
_NAME_START = (
    "SELECT c.id FROM citizens c "
    "WHERE cac311_fold(c.{col}) ~>=~ cac311_fold(CAST(:sn AS text)) "
    "AND cac311_fold(c.{col}) ~<~ (cac311_fold(CAST(:sn AS text)) || chr(1114111)) "
    "ORDER BY cac311_fold(c.{col}) USING ~<~ LIMIT :cand"
)
_WORD_ALONE = (
    f"({_NAME_START.format(col='last_name')}) UNION ({_NAME_START.format(col='first_name')})"
)
# The folded word in parameter {p}, as a quoted tsquery lexeme. Folding can turn a letter
# into a quote ("ŉ" is "'n"): quotes and backslashes are dropped, here and in ``_PREFIXES``,
# as the text-search parser drops them from names.
_LEXEME = r"translate(cac311_fold(CAST(:{p} AS text)), '''\', '')"


def _pairs(words: list[str], params: dict[str, object], *, prefix: bool = True) -> str:
    """Candidates by the pair index: each word before the last, complete, paired with the
    last one, whole or as a prefix (``'maria>gonz':* & 'jose>gonz':*``), then checked by
    ``_PREFIXES``.

    ``OFFSET 0`` keeps the check out of the index scan, so the planner cannot AND in the
    large posting lists of ix_citizens_name_words, which is what this path avoids."""
    for i, word in enumerate(words):
        params[f"p{i}"] = word
    last = _LEXEME.format(p=f"p{len(words) - 1}")
    close = "''':*'" if prefix else "''''"
    tsquery = " || ' & ' || ".join(
        f"'''' || {_LEXEME.format(p=f'p{i}')} || '>' || {last} || {close}"
        for i in range(len(words) - 1)
    )
    return (
        "SELECT c.id FROM (SELECT c.id, c.first_name, c.last_name FROM citizens c "
        "WHERE array_to_tsvector(cac311_name_pairs(c.first_name, c.last_name)) "
        f"@@ CAST({tsquery} AS tsquery) OFFSET 0) c "
        f"WHERE {_PREFIXES} LIMIT :cand"
    )


async def _ordered(session: AsyncSession, candidates: str, params: dict[str, object]) -> list[int]:
    sql = f"""
SELECT c.id FROM citizens c JOIN ({candidates}) m(id) ON m.id = c.id
ORDER BY c.last_name, c.first_name, c.id
LIMIT :limit
"""
    return list((await session.scalars(text(sql), params)).all())
