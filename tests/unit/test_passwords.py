"""Password policy and throttling rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from case_core.domain.passwords import (
    ThrottlePolicy,
    WeakPassword,
    check_password,
    common_passwords,
    is_locked,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("corta-1", "al menos 12"),
        ("x" * 201, "no puede pasar de 200"),
        ("Contraseña123", "demasiado común"),
        ("CONTRASENA123", "demasiado común"),  # accents and case do not help
        ("panamá123456", "demasiado común"),
        ("rmorales-clave-2026", "nombre de usuario"),
        ("RMorales", "al menos 12"),
        ("aaaaaaaaaaaaaaab", "muy pocos caracteres distintos"),
    ],
)
def test_given_a_weak_password_then_the_policy_says_why_in_spanish(password, message):
    with pytest.raises(WeakPassword, match=message):
        check_password(password, username="rmorales")


def test_given_a_long_uncommon_password_then_it_is_accepted():
    assert check_password("tortuga-mango-volcan", username="rmorales") == "tortuga-mango-volcan"


def test_the_demo_password_and_common_list_are_refused():
    assert "password1234" in common_passwords()
    with pytest.raises(WeakPassword):
        check_password("cac311-demo-cac311-demo"[:11], username="x1")


def test_given_n_failures_in_a_row_then_the_account_locks_for_the_lockout():
    policy = ThrottlePolicy(max_user_failures=3, lockout=timedelta(minutes=10))
    assert policy.locked_until_after_failure(2, NOW) is None
    until = policy.locked_until_after_failure(3, NOW)
    assert until == NOW + timedelta(minutes=10)
    assert is_locked(until, NOW + timedelta(minutes=9, seconds=59))
    assert not is_locked(until, NOW + timedelta(minutes=10))
    assert not is_locked(None, NOW)
    assert not policy.ip_blocked(19) and policy.ip_blocked(20)
