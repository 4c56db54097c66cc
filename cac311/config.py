"""Settings read from environment variables, with defaults that suit a single-machine setup.

Every variable is named ``CAC311_<NAME>``. A malformed value raises :class:`ConfigError` naming
the variable, so an operator sees at once which line of their environment is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailer.smtp import SmtpSettings

PREFIX = "CAC311_"


class ConfigError(ValueError):
    """A configuration variable is malformed."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AmiServer:
    """One Asterisk manager interface to connect to."""

    name: str
    host: str
    port: int
    username: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/cac311"
    ami_servers: tuple[AmiServer, ...] = (
        AmiServer("pbx1", "127.0.0.1", 5038, "cac311", "change-me"),
    )
    fastagi_bind: HostPort = HostPort("127.0.0.1", 4573)
    #: Asterisk hosts (addresses or networks) allowed to open FastAGI sessions.
    fastagi_allow: tuple[str, ...] = ("127.0.0.1", "::1")
    http_bind: HostPort = HostPort("127.0.0.1", 8080)
    health_bind: HostPort = HostPort("127.0.0.1", 8081)
    recordings_dir: Path = Path("var/recordings")
    prompts_dir: Path = Path("var/prompts")
    timezone: str = "America/Panama"
    queue_name: str = "cac311"
    service_level_seconds: int = 15
    short_abandon_seconds: int = 5
    session_max_age_seconds: int = 8 * 3600
    recording_retention_days: int = 365
    quality_sample_per_entity: int = 3  # closed cases audited per entity and week
    quality_calls_per_agent: int = 2  # calls evaluated per agent and week
    callback_max_channels: int = 4
    callback_calls_per_minute: int = 20
    callback_trunk: str = "PJSIP/{number}@cac311-trunk"
    callback_caller_id: str = '"3-1-1" <311>'
    #: Country codes callbacks may go to (fixed and mobile ranges of their plans only).
    callback_allowed_prefixes: tuple[str, ...] = ("+507",)
    calling_hours: tuple[int, int] = (8, 20)
    #: Weekdays with calling hours (0 = Monday): Monday to Saturday.
    calling_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    holidays: tuple[str, ...] = ()
    public_origin: str = ""
    #: Key of the keyed hash kept instead of anonymous callers' numbers (created if absent).
    caller_hash_key_file: Path = Path("var/secrets/caller_hash.key")
    # A case is "at risk" in the last at_risk_percent % of its SLA, at least at_risk_min_days.
    at_risk_percent: int = 20
    at_risk_min_days: int = 1
    open311_jurisdiction: str = "311.gob.pa"
    intake_bind: HostPort | None = None
    intake_domain: str = "311.gob.pa"
    # Reverse proxies whose X-Forwarded-For names the client (per-IP limits of the citizen web).
    trusted_proxies: tuple[str, ...] = ()
    env: str = "production"  # CAC311_ENV=demo lets serve start with demo users (issue 11)
    require_2fa: bool = False  # CAC311_REQUIRE_2FA=1: TOTP for admins and supervisors
    login_max_failures: int = 5  # failures in a row that lock an account
    login_lockout_minutes: int = 15
    # Several serve processes: how long a process holds a PBX's AMI tracking link without
    # renewing it (a dead owner's PBX moves after at most this), and per-job periods.
    pbx_lease_seconds: int = 6
    job_periods: tuple[tuple[str, int], ...] = ()
    smtp: SmtpSettings = SmtpSettings(host="")
    # What leaving the desktop (logout, session end, browser closed past the grace time) does
    # to the agent's queue membership: "remove" (QueueRemove), "pause" (QueuePause) or "keep".
    desk_leave_action: str = "remove"
    desk_leave_grace_seconds: int = 90
    # After-call work: seconds the desktop shows "Trabajo posterior"; with desk_wrapup_pause
    # the desktop also pauses the member for it (else queues.conf wrapuptime does the wait).
    desk_wrapup_seconds: int = 30
    desk_wrapup_pause: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ami(self) -> AmiServer:
        return self.ami_servers[0]


def _host_port(name: str, raw: str) -> HostPort:
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{PREFIX}{name} debe ser host:puerto, no {raw!r}")
    return HostPort(host.strip("[]"), _port(name, port))


def _port(name: str, raw: str) -> int:
    port = _int(name, raw)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{PREFIX}{name} debe ser un puerto TCP (0-65535), no {raw!r}")
    return port


def _int(name: str, raw: str, minimum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} debe ser un número entero, no {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{PREFIX}{name} debe ser al menos {minimum}, no {value}")
    return value


def _ami_servers(env: Mapping[str, str], default: AmiServer) -> tuple[AmiServer, ...]:
    """One server from AMI_HOST/PORT/USER/SECRET, or several from AMI_SERVERS.

    ``CAC311_AMI_SERVERS=pbx1=10.0.0.5:5038,pbx2=10.0.0.6:5038`` shares the user and secret.
    """
    user = env.get(PREFIX + "AMI_USER", default.username)
    secret = env.get(PREFIX + "AMI_SECRET", default.secret)
    listing = env.get(PREFIX + "AMI_SERVERS", "").strip()
    if listing:
        servers = []
        for item in listing.split(","):
            name, sep, address = item.strip().partition("=")
            if not sep or not name:
                raise ConfigError(
                    f"{PREFIX}AMI_SERVERS debe ser nombre=host:puerto[,nombre=host:puerto], "
                    f"no {item!r}"
                )
            hp = _host_port("AMI_SERVERS", address)
            servers.append(AmiServer(name.strip(), hp.host, hp.port, user, secret))
        if len({s.name for s in servers}) != len(servers):
            raise ConfigError(f"{PREFIX}AMI_SERVERS repite un nombre de servidor")
        return tuple(servers)
    port = _port("AMI_PORT", env.get(PREFIX + "AMI_PORT", str(default.port)))
    host = env.get(PREFIX + "AMI_HOST", default.host)
    name = env.get(PREFIX + "AMI_NAME", default.name)
    return (AmiServer(name, host, port, user, secret),)


def _calling_hours(raw: str) -> tuple[int, int]:
    start, sep, end = raw.partition("-")
    if not sep:
        raise ConfigError(f"{PREFIX}CALLING_HOURS debe ser como 8-20, no {raw!r}")
    first, last = _int("CALLING_HOURS", start), _int("CALLING_HOURS", end)
    if not 0 <= first < last <= 24:
        raise ConfigError(f"{PREFIX}CALLING_HOURS debe cumplir 0 <= inicio < fin <= 24, no {raw!r}")
    return first, last


def _holidays(raw: str) -> tuple[str, ...]:
    from datetime import date

    days = tuple(d.strip() for d in raw.split(",") if d.strip())
    for day in days:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ConfigError(
                f"{PREFIX}HOLIDAYS debe listar fechas AAAA-MM-DD, no {day!r}"
            ) from None
    return days


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment; raise ConfigError naming a malformed variable."""
    env = os.environ if env is None else env
    d = Settings()

    def get(name: str) -> str | None:
        return env.get(PREFIX + name)

    values: dict[str, object] = {"ami_servers": _ami_servers(env, d.ami)}
    if (url := get("DATABASE_URL")) is not None:
        if not url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ConfigError(f"{PREFIX}DATABASE_URL debe ser una URL postgresql://")
        values["database_url"] = normalise_database_url(url)
    if (raw := get("FASTAGI_BIND")) is not None:
        values["fastagi_bind"] = _host_port("FASTAGI_BIND", raw)
    if (raw := get("FASTAGI_ALLOW")) is not None:
        values["fastagi_allow"] = _networks("FASTAGI_ALLOW", raw)
    if (raw := get("HTTP_BIND")) is not None:
        values["http_bind"] = _host_port("HTTP_BIND", raw)
    if (raw := get("HEALTH_BIND")) is not None:
        values["health_bind"] = _host_port("HEALTH_BIND", raw)
    if (raw := get("RECORDINGS_DIR")) is not None:
        values["recordings_dir"] = Path(raw)
    if (raw := get("PROMPTS_DIR")) is not None:
        values["prompts_dir"] = Path(raw)
    if (raw := get("TIMEZONE")) is not None:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{PREFIX}TIMEZONE no es una zona horaria conocida: {raw!r}"
            ) from None
        values["timezone"] = raw
    for name, attr, minimum in (
        ("SERVICE_LEVEL_SECONDS", "service_level_seconds", 1),
        ("SHORT_ABANDON_SECONDS", "short_abandon_seconds", 0),
        ("SESSION_MAX_AGE_SECONDS", "session_max_age_seconds", 60),
        ("RECORDING_RETENTION_DAYS", "recording_retention_days", 1),
        ("CALLBACK_MAX_CHANNELS", "callback_max_channels", 1),
        ("CALLBACK_CALLS_PER_MINUTE", "callback_calls_per_minute", 1),
        ("DESK_LEAVE_GRACE_SECONDS", "desk_leave_grace_seconds", 5),
        ("DESK_WRAPUP_SECONDS", "desk_wrapup_seconds", 0),
        ("QUALITY_SAMPLE_PER_ENTITY", "quality_sample_per_entity", 1),
        ("QUALITY_CALLS_PER_AGENT", "quality_calls_per_agent", 1),
        ("AT_RISK_PERCENT", "at_risk_percent", 1),
        ("AT_RISK_MIN_DAYS", "at_risk_min_days", 0),
        ("PBX_LEASE_SECONDS", "pbx_lease_seconds", 2),
    ):
        if (raw := get(name)) is not None:
            values[attr] = _int(name, raw, minimum)
    if (raw := get("QUEUE")) is not None:
        values["queue_name"] = raw
    if (raw := get("DESK_WRAPUP_PAUSE")) is not None:
        values["desk_wrapup_pause"] = raw.strip().lower() in ("1", "true", "yes", "si", "sí")
    if (raw := get("DESK_LEAVE")) is not None:
        if raw not in ("remove", "pause", "keep"):
            raise ConfigError(f"{PREFIX}DESK_LEAVE debe ser remove, pause o keep, no {raw!r}")
        values["desk_leave_action"] = raw
    if (raw := get("CALLBACK_TRUNK")) is not None:
        if "{number}" not in raw:
            raise ConfigError(f"{PREFIX}CALLBACK_TRUNK debe contener {{number}}, no {raw!r}")
        values["callback_trunk"] = raw
    if (raw := get("CALLBACK_ALLOW")) is not None:
        values["callback_allowed_prefixes"] = _prefixes("CALLBACK_ALLOW", raw)
    if (raw := get("CALLBACK_CALLER_ID")) is not None:
        values["callback_caller_id"] = raw
    if (raw := get("CALLING_HOURS")) is not None:
        values["calling_hours"] = _calling_hours(raw)
    if (raw := get("HOLIDAYS")) is not None:
        values["holidays"] = _holidays(raw)
    if (raw := get("CALLER_HASH_KEY_FILE")) is not None:
        values["caller_hash_key_file"] = Path(raw)
    if (raw := get("JOB_PERIODS")) is not None:
        values["job_periods"] = _job_periods(raw)
    if (raw := get("PUBLIC_ORIGIN")) is not None:
        values["public_origin"] = raw.rstrip("/")
    if int(values.get("at_risk_percent", d.at_risk_percent)) > 100:  # type: ignore[call-overload]
        raise ConfigError(f"{PREFIX}AT_RISK_PERCENT debe ser como máximo 100")
    if (raw := get("OPEN311_JURISDICTION")) is not None:
        values["open311_jurisdiction"] = raw.strip()
    if (raw := get("INTAKE_BIND")) is not None:
        values["intake_bind"] = _host_port("INTAKE_BIND", raw) if raw.strip() else None
    if (raw := get("INTAKE_DOMAIN")) is not None:
        values["intake_domain"] = raw.strip().lower()
    if (raw := get("TRUSTED_PROXIES")) is not None:
        values["trusted_proxies"] = tuple(p.strip() for p in raw.split(",") if p.strip())
    if (raw := get("ENV")) is not None:
        if raw not in ("production", "demo"):
            raise ConfigError(f"{PREFIX}ENV debe ser production o demo, no {raw!r}")
        values["env"] = raw
    if (raw := get("REQUIRE_2FA")) is not None:
        if raw not in ("0", "1"):
            raise ConfigError(f"{PREFIX}REQUIRE_2FA debe ser 0 o 1, no {raw!r}")
        values["require_2fa"] = raw == "1"
    for name, attr in (
        ("LOGIN_MAX_FAILURES", "login_max_failures"),
        ("LOGIN_LOCKOUT_MINUTES", "login_lockout_minutes"),
    ):
        if (raw := get(name)) is not None:
            values[attr] = _int(name, raw, 1)
    if any(get(name) is not None for name in SMTP_VARIABLES):
        values["smtp"] = _smtp(get)
    return Settings(**values)  # type: ignore[arg-type]


def _prefixes(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items or any(not (p.startswith("+") and p[1:].isdigit()) for p in items):
        raise ConfigError(f"{PREFIX}{name} debe listar códigos de país como +507, no {raw!r}")
    return items


def _networks(name: str, raw: str) -> tuple[str, ...]:
    import ipaddress

    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ConfigError(f"{PREFIX}{name} debe listar al menos una dirección o red")
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}: no es una dirección ni una red: {item!r}") from None
    return items
def _job_periods(raw: str) -> tuple[tuple[str, int], ...]:
    """``escalation=600,callback_schedule=60``: seconds per periodic job, overriding defaults."""
    periods = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, seconds = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{PREFIX}JOB_PERIODS debe ser nombre=segundos,..., no {raw!r}")
        periods.append((name.strip(), _int("JOB_PERIODS", seconds.strip(), 1)))
    return tuple(periods)


SMTP_VARIABLES = (
    "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS"
)


def _smtp(get: Callable[[str], str | None]) -> SmtpSettings:
    """CAC311_SMTP_HOST/_PORT/_USER/_PASSWORD/_FROM/_STARTTLS: the relay cac311 sends through."""
    d = SmtpSettings(host="")
    starttls = (get("SMTP_STARTTLS") or "0").strip().lower()
    if starttls not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{PREFIX}SMTP_STARTTLS debe ser 0 o 1, no {starttls!r}")
    return SmtpSettings(
        host=get("SMTP_HOST") or "",
        port=_port("SMTP_PORT", get("SMTP_PORT") or str(d.port)),
        sender=get("SMTP_FROM") or d.sender,
        username=get("SMTP_USER") or None,
        password=get("SMTP_PASSWORD") or None,
        starttls=starttls in ("1", "true", "yes"),
    )


def normalise_database_url(url: str) -> str:
    """Make any postgresql:// URL use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url
