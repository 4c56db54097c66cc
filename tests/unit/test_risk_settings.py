"""The at-risk share of the SLA is configurable and checked."""

from __future__ import annotations

import pytest

from cac311.config import ConfigError, load_settings


def test_given_at_risk_variables_then_settings_hold_them():
    settings = load_settings({"CAC311_AT_RISK_PERCENT": "25", "CAC311_AT_RISK_MIN_DAYS": "2"})
    assert (settings.at_risk_percent, settings.at_risk_min_days) == (25, 2)
    assert (load_settings({}).at_risk_percent, load_settings({}).at_risk_min_days) == (20, 1)


@pytest.mark.parametrize("value", ["0", "101", "veinte"])
def test_given_a_bad_at_risk_percent_then_the_variable_is_named(value):
    with pytest.raises(ConfigError, match="CAC311_AT_RISK_PERCENT"):
        load_settings({"CAC311_AT_RISK_PERCENT": value})
