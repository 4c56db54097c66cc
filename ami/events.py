"""Typed AMI events: the only shape in which AMI data leaves the ``ami`` package.

``to_event(message, server, received_at)`` turns a parsed :class:`ami.protocol.Event`
into a frozen dataclass, or returns None for events nobody here needs (Newexten,
DeviceStateChange, ...). Every event carries ``server`` (which PBX it came from) and
``received_at`` (a timezone-aware UTC datetime chosen by the caller: the parser never reads
the clock).

Attribute names are snake_case; each docstring names the AMI key it is read from, spelled
exactly as on the wire. Quirks seen in the Asterisk 22 transcripts:

- Channel events carry ``Uniqueid`` (this channel) and ``Linkedid`` (the first channel of
  the call). With Local channels the queue caller is the ``;2`` half.
- ``AgentComplete`` may come with NO channel keys at all (the caller channel was redirected
  out of the queue and hung up first): then ``uniqueid`` is None and only queue/interface
  identify the call.
- ``OriginateResponse`` failures say ``Uniqueid: <unknown>`` (mapped to None); ``Reason`` is
  the dial cause: 4 answered, 5 busy, 3 no answer, 8 congestion, 0 no such extension/tech.
- ``AgentRingNoAnswer`` ``RingTime`` is in milliseconds; ``AgentConnect`` ``RingTime`` and
  every ``HoldTime``/``TalkTime`` are in seconds.
- Queue list events use ``Name``/``Location`` (``QueueMember``) where member events use
  ``MemberName``/``Interface``; both map to ``member_name``/``interface`` here.
  ``QueueParams`` spells ``Holdtime`` while ``QueueSummary`` spells ``HoldTime``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ami.protocol import AmiMessage, Event

UNKNOWN = "<unknown>"


@dataclass(frozen=True, kw_only=True)
class AmiEvent:
    """Base of every typed event."""

    server: str
    received_at: datetime


@dataclass(frozen=True, kw_only=True)
class ChannelEvent(AmiEvent):
    """An event about one channel (``Channel``, ``Uniqueid``, ``Linkedid``, ``CallerIDNum``...)."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_id_num: str | None
    caller_id_name: str | None


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoin(ChannelEvent):
    """A caller entered a queue (``Queue``, ``Position``, ``Count``)."""

    queue: str
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerLeave(ChannelEvent):
    """A caller left the queue: answered, abandoned or timed out (comes BEFORE AgentConnect)."""

    queue: str
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerAbandon(ChannelEvent):
    """Caller hung up or hit the queue timeout before an answer (``HoldTime`` seconds)."""

    queue: str
    position: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, kw_only=True)
class AgentEvent(ChannelEvent):
    """Queue-to-agent events: caller channel + ``DestChannel``/``DestUniqueid`` + member."""

    queue: str
    interface: str
    member_name: str
    dest_channel: str
    dest_uniqueid: str


@dataclass(frozen=True, kw_only=True)
class AgentCalled(AgentEvent):
    """A member starts ringing for this caller."""


@dataclass(frozen=True, kw_only=True)
class AgentRingNoAnswer(AgentEvent):
    """A member rang out without answering (``RingTime`` in milliseconds)."""

    ring_time_ms: int


@dataclass(frozen=True, kw_only=True)
class AgentConnect(AgentEvent):
    """A member answered (``HoldTime`` and ``RingTime`` in seconds)."""

    hold_time: int
    ring_time: int


@dataclass(frozen=True, kw_only=True)
class AgentComplete(AmiEvent):
    """The agent leg ended (``HoldTime``, ``TalkTime``, ``Reason``: agent|caller|transfer).

    The channel fields are None when Asterisk omits them (caller redirected and gone).
    """

    channel: str | None
    uniqueid: str | None
    linkedid: str | None
    queue: str
    interface: str
    member_name: str
    dest_channel: str | None
    dest_uniqueid: str | None
    dest_linkedid: str | None = None
    hold_time: int
    talk_time: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Hangup(ChannelEvent):
    """A channel is gone (``Cause``, ``Cause-txt``)."""

    cause: int
    cause_txt: str


@dataclass(frozen=True, kw_only=True)
class VarSet(ChannelEvent):
    """A channel variable was set (``Variable``, ``Value``): MIXMONITOR_FILENAME, CAC311_*."""

    variable: str
    value: str


@dataclass(frozen=True, kw_only=True)
class MixMonitorStart(ChannelEvent):
    """Recording started (no file name: that comes as VarSet MIXMONITOR_FILENAME)."""


@dataclass(frozen=True, kw_only=True)
class MixMonitorStop(ChannelEvent):
    """Recording stopped explicitly (not sent when the call just hangs up)."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberEvent(AmiEvent):
    """Common body of QueueMember{Status,Pause,Added,Removed}."""

    queue: str
    member_name: str
    interface: str
    state_interface: str
    membership: str
    penalty: int
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str


@dataclass(frozen=True, kw_only=True)
class QueueMemberStatus(QueueMemberEvent):
    """Member device/queue status changed (``Status``: 1 not in use, 2 in use, 6 ringing...)."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberPause(QueueMemberEvent):
    """Member paused or unpaused (``Paused``, ``PausedReason``)."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberAdded(QueueMemberEvent):
    """Member added (QueueAdd)."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberRemoved(QueueMemberEvent):
    """Member removed (QueueRemove)."""


@dataclass(frozen=True, kw_only=True)
class OriginateResponse(AmiEvent):
    """Outcome of an async Originate, matched by ``ActionID``."""

    action_id: str | None
    response: str
    channel: str
    context: str | None
    exten: str | None
    reason: int
    uniqueid: str | None
    caller_id_num: str | None
    caller_id_name: str | None

    @property
    def success(self) -> bool:
        """True when the far end answered (``Response: Success``)."""
        return self.response == "Success"


@dataclass(frozen=True, kw_only=True)
class FullyBooted(AmiEvent):
    """Sent after login (``Uptime``, ``LastReload`` seconds): a smaller uptime = restart."""

    uptime: int
    last_reload: int


@dataclass(frozen=True, kw_only=True)
class QueueParams(AmiEvent):
    """QueueStatus list item: queue counters (``Holdtime``, ``ServicelevelPerf``...)."""

    queue: str
    max: int
    strategy: str
    calls: int
    holdtime: int
    talk_time: int
    completed: int
    abandoned: int
    service_level: int
    service_level_perf: float
    service_level_perf2: float
    weight: int


@dataclass(frozen=True, kw_only=True)
class QueueMember(AmiEvent):
    """QueueStatus list item: one member (``Name`` -> member_name, ``Location`` -> interface)."""

    queue: str
    member_name: str
    interface: str
    state_interface: str
    membership: str
    penalty: int
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str


@dataclass(frozen=True, kw_only=True)
class QueueEntry(AmiEvent):
    """QueueStatus list item: a caller waiting (``Wait`` seconds, ``Position``)."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_id_num: str | None
    caller_id_name: str | None
    wait: int


@dataclass(frozen=True, kw_only=True)
class CoreShowChannel(AmiEvent):
    """CoreShowChannels list item (``Application``, ``Duration`` hh:mm:ss, ``BridgeId``)."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_id_num: str | None
    caller_id_name: str | None
    context: str
    exten: str
    application: str
    application_data: str
    duration_seconds: int
    bridge_id: str | None


@dataclass(frozen=True, kw_only=True)
class Resync(AmiEvent):
    """Snapshot re-read after every (re)login: queue params, members, entries, channels.

    ``requested_at`` is when the snapshot was asked for: calls last seen before it and absent
    from it are gone. ``asterisk_restarted`` is True when FullyBooted showed an uptime reset.
    """

    requested_at: datetime
    params: tuple[QueueParams, ...]
    members: tuple[QueueMember, ...]
    entries: tuple[QueueEntry, ...]
    channels: tuple[CoreShowChannel, ...]
    uptime: int | None
    asterisk_restarted: bool


class EventFormatError(ValueError):
    """A known event lacked a required key or had a malformed number."""


def _req(m: AmiMessage, key: str) -> str:
    value = m.get(key)
    if value is None:
        raise EventFormatError(f"missing {key}")
    return value


def _opt(m: AmiMessage, key: str) -> str | None:
    value = m.get(key)
    if value is None or value == UNKNOWN:
        return None
    return value


def _int(m: AmiMessage, key: str, default: int | None = None) -> int:
    value = m.get(key)
    if value is None or value == "":
        if default is None:
            raise EventFormatError(f"missing {key}")
        return default
    try:
        return int(value)
    except ValueError:
        raise EventFormatError(f"bad integer in {key}") from None


def _float(m: AmiMessage, key: str) -> float:
    try:
        return float(_req(m, key))
    except ValueError:
        raise EventFormatError(f"bad number in {key}") from None


def _bool(m: AmiMessage, key: str) -> bool:
    return (m.get(key) or "").strip().lower() in ("1", "yes", "true", "on")


def _duration(text: str) -> int:
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise EventFormatError("bad Duration") from None
    total = 0
    for n in numbers:
        total = total * 60 + n
    return total


def _base(m: AmiMessage, server: str, at: datetime) -> dict[str, Any]:
    return {"server": server, "received_at": at}


def _channel(m: AmiMessage, server: str, at: datetime) -> dict[str, Any]:
    return {
        **_base(m, server, at),
        "channel": _req(m, "Channel"),
        "uniqueid": _req(m, "Uniqueid"),
        "linkedid": m.get("Linkedid") or _req(m, "Uniqueid"),
        "caller_id_num": _opt(m, "CallerIDNum"),
        "caller_id_name": _opt(m, "CallerIDName"),
    }


def _agent(m: AmiMessage, server: str, at: datetime) -> dict[str, Any]:
    return {
        **_channel(m, server, at),
        "queue": _req(m, "Queue"),
        "interface": _req(m, "Interface"),
        "member_name": m.get("MemberName") or _req(m, "Interface"),
        "dest_channel": _req(m, "DestChannel"),
        "dest_uniqueid": _req(m, "DestUniqueid"),
    }


def _member(m: AmiMessage, server: str, at: datetime, *, listed: bool) -> dict[str, Any]:
    interface = _req(m, "Location" if listed else "Interface")
    return {
        **_base(m, server, at),
        "queue": _req(m, "Queue"),
        "member_name": m.get("Name" if listed else "MemberName") or interface,
        "interface": interface,
        "state_interface": m.get("StateInterface") or interface,
        "membership": m.get("Membership") or "",
        "penalty": _int(m, "Penalty", 0),
        "calls_taken": _int(m, "CallsTaken", 0),
        "last_call": _int(m, "LastCall", 0),
        "last_pause": _int(m, "LastPause", 0),
        "login_time": _int(m, "LoginTime", 0),
        "in_call": _bool(m, "InCall"),
        "status": _int(m, "Status", 0),
        "paused": _bool(m, "Paused"),
        "paused_reason": m.get("PausedReason") or "",
    }


Converter = Callable[[AmiMessage, str, datetime], AmiEvent]


def _queue_join(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueCallerJoin(
        **_channel(m, s, t),
        queue=_req(m, "Queue"),
        position=_int(m, "Position"),
        count=_int(m, "Count", 0),
    )


def _queue_leave(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueCallerLeave(
        **_channel(m, s, t),
        queue=_req(m, "Queue"),
        position=_int(m, "Position"),
        count=_int(m, "Count", 0),
    )


def _queue_abandon(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueCallerAbandon(
        **_channel(m, s, t),
        queue=_req(m, "Queue"),
        position=_int(m, "Position"),
        original_position=_int(m, "OriginalPosition"),
        hold_time=_int(m, "HoldTime"),
    )


def _agent_called(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return AgentCalled(**_agent(m, s, t))


def _agent_rna(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return AgentRingNoAnswer(**_agent(m, s, t), ring_time_ms=_int(m, "RingTime", 0))


def _agent_connect(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return AgentConnect(
        **_agent(m, s, t), hold_time=_int(m, "HoldTime"), ring_time=_int(m, "RingTime", 0)
    )


def _agent_complete(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    interface = _req(m, "Interface")
    return AgentComplete(
        **_base(m, s, t),
        channel=m.get("Channel"),
        uniqueid=m.get("Uniqueid"),
        linkedid=m.get("Linkedid"),
        queue=_req(m, "Queue"),
        interface=interface,
        member_name=m.get("MemberName") or interface,
        dest_channel=m.get("DestChannel"),
        dest_uniqueid=m.get("DestUniqueid"),
        dest_linkedid=m.get("DestLinkedid"),
        hold_time=_int(m, "HoldTime"),
        talk_time=_int(m, "TalkTime"),
        reason=m.get("Reason") or "",
    )


def _hangup(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return Hangup(
        **_channel(m, s, t), cause=_int(m, "Cause", 0), cause_txt=m.get("Cause-txt") or ""
    )


def _varset(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return VarSet(**_channel(m, s, t), variable=_req(m, "Variable"), value=m.get("Value") or "")


def _mixmon_start(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return MixMonitorStart(**_channel(m, s, t))


def _mixmon_stop(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return MixMonitorStop(**_channel(m, s, t))


def _member_event(cls: type[QueueMemberEvent]) -> Converter:
    def convert(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
        return cls(**_member(m, s, t, listed=False))

    return convert


def _originate(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return OriginateResponse(
        **_base(m, s, t),
        action_id=m.get("ActionID"),
        response=_req(m, "Response"),
        channel=m.get("Channel") or "",
        context=_opt(m, "Context"),
        exten=_opt(m, "Exten"),
        reason=_int(m, "Reason", 0),
        uniqueid=_opt(m, "Uniqueid"),
        caller_id_num=_opt(m, "CallerIDNum"),
        caller_id_name=_opt(m, "CallerIDName"),
    )


def _fully_booted(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return FullyBooted(
        **_base(m, s, t), uptime=_int(m, "Uptime"), last_reload=_int(m, "LastReload", 0)
    )


def _queue_params(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueParams(
        **_base(m, s, t),
        queue=_req(m, "Queue"),
        max=_int(m, "Max", 0),
        strategy=m.get("Strategy") or "",
        calls=_int(m, "Calls", 0),
        holdtime=_int(m, "Holdtime", 0),
        talk_time=_int(m, "TalkTime", 0),
        completed=_int(m, "Completed", 0),
        abandoned=_int(m, "Abandoned", 0),
        service_level=_int(m, "ServiceLevel", 0),
        service_level_perf=_float(m, "ServicelevelPerf"),
        service_level_perf2=_float(m, "ServicelevelPerf2"),
        weight=_int(m, "Weight", 0),
    )


def _queue_member(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueMember(**_member(m, s, t, listed=True))


def _queue_entry(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return QueueEntry(
        **_base(m, s, t),
        queue=_req(m, "Queue"),
        position=_int(m, "Position"),
        channel=_req(m, "Channel"),
        uniqueid=_req(m, "Uniqueid"),
        caller_id_num=_opt(m, "CallerIDNum"),
        caller_id_name=_opt(m, "CallerIDName"),
        wait=_int(m, "Wait", 0),
    )


def _core_show_channel(m: AmiMessage, s: str, t: datetime) -> AmiEvent:
    return CoreShowChannel(
        **_channel(m, s, t),
        context=m.get("Context") or "",
        exten=m.get("Exten") or "",
        application=m.get("Application") or "",
        application_data=m.get("ApplicationData") or "",
        duration_seconds=_duration(m.get("Duration") or "0"),
        bridge_id=m.get("BridgeId") or None,
    )


CONVERTERS: dict[str, Converter] = {
    "QueueCallerJoin": _queue_join,
    "QueueCallerLeave": _queue_leave,
    "QueueCallerAbandon": _queue_abandon,
    "AgentCalled": _agent_called,
    "AgentRingNoAnswer": _agent_rna,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "Hangup": _hangup,
    "VarSet": _varset,
    "MixMonitorStart": _mixmon_start,
    "MixMonitorStop": _mixmon_stop,
    "QueueMemberStatus": _member_event(QueueMemberStatus),
    "QueueMemberPause": _member_event(QueueMemberPause),
    "QueueMemberAdded": _member_event(QueueMemberAdded),
    "QueueMemberRemoved": _member_event(QueueMemberRemoved),
    "OriginateResponse": _originate,
    "FullyBooted": _fully_booted,
    "QueueParams": _queue_params,
    "QueueMember": _queue_member,
    "QueueEntry": _queue_entry,
    "CoreShowChannel": _core_show_channel,
}


def to_event(message: AmiMessage, server: str, received_at: datetime) -> AmiEvent | None:
    """Typed event for an AMI ``Event`` message, or None if it is not one we use.

    Raises :class:`EventFormatError` when a known event lacks a required key.
    """
    if not isinstance(message, Event):
        return None
    converter = CONVERTERS.get(message.name)
    if converter is None:
        return None
    return converter(message, server, received_at)
