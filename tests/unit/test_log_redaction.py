from __future__ import annotations

import logging
import sys

from cac311.logs import REDACTED, RedactingFormatter


def _formatted_error(message: str) -> str:
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise RuntimeError(message)
    except RuntimeError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "could not store", (), sys.exc_info()
        )
    return formatter.format(record)


def test_postgresql_detail_lines_never_reach_the_log():
    text = _formatted_error(
        'duplicate key value violates unique constraint "uq_citizens_cedula"\n'
        "DETAIL:  Key (cedula)=(8-123-4567) already exists."
    )
    assert "8-123-4567" not in text and REDACTED in text
    assert "uq_citizens_cedula" in text  # what failed is still said


def test_failing_row_lines_are_dropped_too():
    text = _formatted_error(
        'new row violates check constraint "ck_cases_type"\n'
        "DETAIL:  Failing row contains (1, 2026000001, queja, Vecino vende droga, +50761234567)."
    )
    assert "Vecino" not in text and "+50761234567" not in text


def test_asyncpg_invalid_argument_values_are_cut():
    # Issue 15, finding 10: asyncpg repeats the value it could not encode.
    text = _formatted_error(
        "(sqlalchemy.dialects.postgresql.asyncpg.Error) <class 'asyncpg.exceptions.DataError'>:"
        " invalid input for query argument $1: '8-123-4567' (invalid literal for int())"
    )
    assert "8-123-4567" not in text
    assert "invalid input for query argument $1" in text


def test_echoed_request_lines_and_query_strings_are_cut():
    text = _formatted_error(
        "400, message:\n  Invalid header value char:\n\n"
        "    b'Cookie: cac311_sesion=s3cr3t-t0ken\\x01'\n"
        "  Got more than 8190 bytes when reading: bytearray(b'/ciudadanos?q=8-123-4567AAA').\n"
        "GET /ciudadanos?q=Rosa%20P%C3%A9rez&pagina=2 400"
    )
    assert "s3cr3t-t0ken" not in text and "8-123-4567" not in text and "Rosa" not in text
    assert "GET /ciudadanos?[consulta omitida] 400" in text
