from __future__ import annotations

from datetime import UTC, datetime

import pytest

from case_core.domain.case import (
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    CaseType,
    allowed_actions,
    apply_action,
    check_confidentiality,
    format_case_number,
    is_case_number,
    next_status,
)
from case_core.domain.errors import DomainError, IllegalTransition

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
S, A = CaseStatus, CaseAction


@pytest.mark.parametrize(
    ("start", "actions", "end"),
    [
        (S.REGISTRADO, [A.ASSIGN, A.START, A.CLOSE], S.CERRADO),
        (S.REGISTRADO, [A.CLOSE], S.CERRADO),
        (S.REGISTRADO, [A.ASSIGN, A.RETURN_TO_311, A.REASSIGN, A.START], S.EN_PROCESO),
        (S.REGISTRADO, [A.ASSIGN, A.START, A.CLOSE, A.REOPEN, A.CLOSE], S.CERRADO),
    ],
)
def test_given_legal_paths_when_applied_then_the_case_ends_where_expected(start, actions, end):
    status = start
    for action in actions:
        status = apply_action(status, action, NOW).to_status
    assert status is end


def test_every_pair_outside_the_table_is_illegal():
    for status in CaseStatus:
        for action in CaseAction:
            if (status, action) in TRANSITIONS:
                assert next_status(status, action) is TRANSITIONS[(status, action)]
            else:
                with pytest.raises(IllegalTransition):
                    next_status(status, action)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.CERRADO, A.START),
        (S.REGISTRADO, A.START),
        (S.EN_PROCESO, A.ASSIGN),
        (S.DEVUELTO_311, A.START),
        (S.CERRADO, A.CLOSE),
    ],
)
def test_given_an_illegal_move_then_a_spanish_error_names_the_status(status, action):
    with pytest.raises(IllegalTransition, match="No se puede"):
        apply_action(status, action, NOW)


def test_allowed_actions_come_from_the_table():
    assert set(allowed_actions(S.ASIGNADO)) == {A.START, A.RETURN_TO_311, A.CLOSE, A.MERGE}
    assert allowed_actions(S.CERRADO) == [A.REOPEN]


def test_case_numbers_are_keypad_digits():
    assert format_case_number(2026, 123) == "2026000123"
    assert is_case_number("2026000123")
    assert not is_case_number("2026-000123")
    assert not is_case_number("123")
    with pytest.raises(DomainError):
        format_case_number(2026, 1_000_000)


def test_only_denuncias_may_be_anonymous_and_then_confidential():
    check_confidentiality(CaseType.DENUNCIA, anonymous=True, confidential=True)
    check_confidentiality(CaseType.QUEJA, anonymous=False, confidential=True)
    with pytest.raises(DomainError):
        check_confidentiality(CaseType.QUEJA, anonymous=True, confidential=True)
    with pytest.raises(DomainError):
        check_confidentiality(CaseType.DENUNCIA, anonymous=True, confidential=False)


def test_given_a_case_number_typed_with_spaces_or_dashes_then_it_is_parsed():
    from case_core.domain.case import parse_case_number

    for typed in ("2026000007", "2026 000 007", " 2026-000007 ", "2026.000.007"):
        assert parse_case_number(typed) == "2026000007", typed
    for other in ("", "8-123-456", "2026 00 007", "abc2026000007", "6123-4567"):
        assert parse_case_number(other) is None, other
