from __future__ import annotations

import pytest

from cac311.config import ConfigError, load_settings


def test_defaults_need_no_environment():
    s = load_settings({})
    assert s.timezone == "America/Panama"
    assert s.database_url.startswith("postgresql+asyncpg://")
    assert s.fastagi_bind.port == 4573
    assert s.service_level_seconds == 15


def test_values_are_read_and_urls_get_the_async_driver():
    s = load_settings(
        {
            "CAC311_DATABASE_URL": "postgresql://u@db:5432/x",
            "CAC311_FASTAGI_BIND": "127.0.0.1:4600",
            "CAC311_AMI_SERVERS": "pbx1=10.0.0.5:5038,pbx2=10.0.0.6:5039",
            "CAC311_AMI_SECRET": "s3cret",
            "CAC311_CALLING_HOURS": "9-18",
        }
    )
    assert s.database_url == "postgresql+asyncpg://u@db:5432/x"
    assert str(s.fastagi_bind) == "127.0.0.1:4600"
    assert [a.name for a in s.ami_servers] == ["pbx1", "pbx2"]
    assert s.ami_servers[1].port == 5039
    assert "s3cret" not in repr(s)
    assert s.calling_hours == (9, 18)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAC311_AMI_PORT", "many"),
        ("CAC311_AMI_PORT", "70000"),
        ("CAC311_FASTAGI_BIND", "4573"),
        ("CAC311_DATABASE_URL", "mysql://x"),
        ("CAC311_TIMEZONE", "Mars/Olympus"),
        ("CAC311_SERVICE_LEVEL_SECONDS", "0"),
        ("CAC311_CALLING_HOURS", "20-8"),
        ("CAC311_HOLIDAYS", "2026-13-01"),
        ("CAC311_AMI_SERVERS", "pbx1"),
        ("CAC311_CALLBACK_TRUNK", "PJSIP/trunk"),
    ],
)
def test_a_malformed_variable_is_named_in_the_error(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_smtp_settings_come_from_the_environment_and_a_bad_port_is_named():
    import pytest

    from cac311.config import ConfigError, load_settings

    settings = load_settings(
        {"CAC311_SMTP_HOST": "relay.gob.pa", "CAC311_SMTP_PORT": "587", "CAC311_SMTP_STARTTLS": "1"}
    )
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == (
        "relay.gob.pa",
        587,
        True,
    )
    assert load_settings({}).smtp.host == ""
    with pytest.raises(ConfigError, match="CAC311_SMTP_PORT"):
        load_settings({"CAC311_SMTP_PORT": "x"})
