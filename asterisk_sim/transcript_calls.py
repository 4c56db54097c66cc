"""Calls with the real event mix: a captured Asterisk 22 call replayed with new identifiers.

``traffic.py`` emits the subset of a call's events that carries meaning; benchmarks and
capacity tests need what a real Asterisk sends instead: every event of
``2026-12-01/ami-eventfilter-unfiltered`` (an inbound call through the IVR over FastAGI, two
keypad entries, the queue, PJSIP/1001 answering, the caller hanging up 25 s later): 224 PBX
events, 113 of them VarSet, with both halves of the caller's Local channel, the agent's
PJSIP channel, bridges, device states and DTMF. The two events of the capture session
itself (its login's FullyBooted and the test harness's OriginateResponse) are left out.

:class:`TranscriptCall` keeps every event's name, field names, field order and values, and
its time in the call, and rewrites only the identifiers, so that many calls can run at once:
uniqueids and linkedid, the Local channel's sequence number, the agent's PJSIP interface and
channel, the bridge id, the caller's number and the agent's name. A rewritten identifier
keeps its place in every value it appears in (the MixMonitor file name carries the
uniqueid, ``Device: PJSIP/1001`` becomes the new interface). A call of the template, fed to
the tracker, gives the same call row as the capture with the new identifiers
(tests/protocol/test_transcript_calls.py).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from ami.protocol import AmiParser, Event

Pairs = list[tuple[str, str]]
TEMPLATE = "2026-12-01/ami-eventfilter-unfiltered"
_SESSION = {"FullyBooted", "OriginateResponse"}

# Captured identifiers -> placeholders (longest first: the channel before the interface).
_TOKENS = {
    "Local/311@cac311-inbound-00000004": "{local}",
    "PJSIP/1001-00000002": "{agent_channel}",
    "PJSIP/1001": "{agent}",
    "1796137249.10": "{uid1}",
    "1796137249.11": "{uid2}",
    "1796137289.12": "{uid_agent}",
    "ee9110f6-3ec0-4ebe-9d70-306efb439f24": "{bridge}",
    "60006601": "{caller}",
    "Ana Batista": "{agent_name}",
}
# Whole values only: the agent phone's own caller ID.
_EXACT = {"1001": "{agent_ext}"}
_PATTERN = re.compile("|".join(re.escape(t) for t in sorted(_TOKENS, key=len, reverse=True)))


def _template_value(value: str) -> str | None:
    """The value as a str.format template, or None when it holds no identifier."""
    if value in _EXACT:
        return _EXACT[value]
    if not _PATTERN.search(value):
        return None
    escaped = value.replace("{", "{{").replace("}", "}}")
    return _PATTERN.sub(lambda m: _TOKENS[m.group(0)], escaped)


@dataclass(frozen=True)
class _Field:
    key: str
    value: str
    template: str | None


@dataclass(frozen=True)
class TemplateEvent:
    at: float  # seconds since the first event of the call
    fields: tuple[_Field, ...]

    @property
    def name(self) -> str:
        return self.fields[0].value


def transcript_dir() -> Path:
    from asterisk_sim.ami import _transcript_dir

    return _transcript_dir()


def load_events(name: str, directory: Path | None = None) -> list[tuple[float, Event]]:
    """PBX events of a transcript with their times (parser reset at each ``<...>`` mark)."""
    path = (directory or transcript_dir()) / f"{name}.jsonl"
    parser = AmiParser()
    out: list[tuple[float, Event]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["dir"] != "asterisk":
            continue
        data: str = row["data"]
        if data.startswith("<") and data.endswith(">"):
            parser = AmiParser()
            continue
        for message in parser.feed(data.encode("utf-8")):
            if isinstance(message, Event):
                out.append((float(row["t"]), message))
    return out


class TranscriptCall:
    """The template call; :meth:`instantiate` gives one call's events with new identifiers."""

    def __init__(self, name: str = TEMPLATE, directory: Path | None = None) -> None:
        events = [(t, e) for t, e in load_events(name, directory) if e.name not in _SESSION]
        first = events[0][0]
        self.events = [
            TemplateEvent(
                round(t - first, 3),
                tuple(_Field(k, v, _template_value(v)) for k, v in e.fields),
            )
            for t, e in events
        ]
        self.duration = self.events[-1].at
        self.connect_at = next(e.at for e in self.events if e.name == "AgentConnect")

    def __len__(self) -> int:
        return len(self.events)

    def identifiers(
        self, k: int, *, caller: str, agent: str, agent_name: str = "Agente"
    ) -> dict[str, str]:
        """The identifiers of call number ``k`` (``agent`` is a PJSIP interface)."""
        base = 1_796_200_000 + k
        return {
            "local": f"Local/311@cac311-inbound-{k:08x}",
            "agent_channel": f"{agent}-{k:08x}",
            "agent": agent,
            "agent_ext": agent.rpartition("/")[2],
            "uid1": f"{base}.{3 * k}",
            "uid2": f"{base}.{3 * k + 1}",
            "uid_agent": f"{base}.{3 * k + 2}",
            "bridge": str(uuid.UUID(int=k)),
            "caller": caller,
            "agent_name": agent_name,
        }

    def instantiate(
        self, k: int, *, caller: str, agent: str, agent_name: str = "Agente"
    ) -> list[tuple[float, Pairs]]:
        """``(seconds into the call, fields)`` for every event of call ``k``, in order."""
        ids = self.identifiers(k, caller=caller, agent=agent, agent_name=agent_name)
        return [
            (
                e.at,
                [
                    (f.key, f.value if f.template is None else f.template.format(**ids))
                    for f in e.fields
                ],
            )
            for e in self.events
        ]
