from __future__ import annotations

import pytest

from case_core.domain.cedula import parse_cedula, parse_dtmf_cedula
from case_core.domain.errors import InvalidCedula


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("8-123-4567", "8-123-4567"),
        ("08-0123-004567", "8-123-4567"),
        (" 8 - 123 - 4567 ", "8-123-4567"),
        ("PE-12-345", "PE-12-345"),
        ("pe-12-345", "PE-12-345"),
        ("E-8-123456", "E-8-123456"),
        ("N-12-345", "N-12-345"),
        ("1AV-12-345", "1AV-12-345"),
        ("1PI-12-345", "1PI-12-345"),
        ("13-1-1", "13-1-1"),
        ("10PI-5-77", "10PI-5-77"),
        ("8–123–4567", "8-123-4567"),
    ],
)
def test_given_a_real_format_when_parsed_then_it_is_normalised(written, canonical):
    assert str(parse_cedula(written)) == canonical


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "vacía"),
        ("8-123", "tres partes"),
        ("14-123-4567", "provincia 14"),
        ("0-123-4567", "provincia 0"),
        ("X-12-345", "prefijo"),
        ("8-12345-1", "tomo"),
        ("8-123-1234567", "asiento"),
        ("8-0-4567", "tomo no puede ser cero"),
        ("8-123-0", "asiento no puede ser cero"),
        ("8AV-12", "tres partes"),
        ("PI-12-345", "prefijo"),
    ],
)
def test_given_an_invalid_cedula_when_parsed_then_the_error_says_why(written, reason):
    with pytest.raises(InvalidCedula, match=reason):
        parse_cedula(written)


def test_given_keypad_digits_when_parsed_then_stars_are_dashes_and_hash_is_ignored():
    assert str(parse_dtmf_cedula("8*123*4567#")) == "8-123-4567"
    assert str(parse_dtmf_cedula("8*123*4567")) == "8-123-4567"


@pytest.mark.parametrize("keys", ["", "#", "8123", "8*123*45A7", "14*1*1"])
def test_given_bad_keypad_input_when_parsed_then_it_is_rejected(keys):
    with pytest.raises(InvalidCedula):
        parse_dtmf_cedula(keys)


def test_given_cedulas_then_dtmf_form_and_province_follow_the_prefix():
    assert parse_cedula("8-123-4567").dtmf == "8*123*4567"
    assert parse_cedula("8-123-4567").province == 8
    assert parse_cedula("1PI-12-345").province == 1
    assert parse_cedula("1PI-12-345").dtmf is None
    assert parse_cedula("E-8-123456").province is None
