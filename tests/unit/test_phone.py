from __future__ import annotations

import pytest

from case_core.domain.errors import InvalidPhone
from case_core.domain.phone import caller_id_candidates, is_mobile, normalise_phone


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("6123-4567", "+50761234567"),
        ("+507 6123 4567", "+50761234567"),
        ("00507 6123-4567", "+50761234567"),
        ("50761234567", "+50761234567"),
        ("223-4567", "+5072234567"),
        ("+1 305 555 0100", "+13055550100"),
    ],
)
def test_given_phone_forms_when_normalised_then_e164(written, e164):
    assert normalise_phone(written) == e164


@pytest.mark.parametrize("bad", ["", "123", "7123-4567", "61234", "abc", "+12"])
def test_given_bad_phones_when_normalised_then_rejected(bad):
    with pytest.raises(InvalidPhone):
        normalise_phone(bad)


def test_mobile_detection_and_withheld_caller_id():
    assert is_mobile("+50761234567")
    assert not is_mobile("+5072234567")
    assert caller_id_candidates("anonymous") == []
    assert caller_id_candidates("61234567") == ["+50761234567"]
