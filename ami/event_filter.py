"""Asterisk 22's advanced AMI event filters (``eventfilter(...)`` in manager.conf), as a
pure model: which events a manager user with these filters receives.

Syntax (Asterisk's AMI Event Filtering documentation; captured in
``2026-12-01/ami-eventfilter``)::

    eventfilter(action(include|exclude),name(Event),header(Header),method(M)) = value

``method`` is ``none`` (default: the value is ignored), ``exact``, ``starts_with``,
``ends_with``, ``contains`` or ``regex``. With include filters, an event is sent only if it
matches at least one of them; then any matching exclude filter drops it. ``header(H)``
matches only events that carry ``H``. Action responses, and the list events that answer
an action (QueueStatus, CoreShowChannels), are never filtered.

The product's filter lives in ``asterisk_conf/manager.conf`` (user ``[cac311]``); the AMI
simulator applies the same rules (``AmiSimulator(event_filter=...)``) and the tests check
both against the real Asterisk's transcripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

METHODS = ("none", "exact", "starts_with", "ends_with", "contains", "regex")
_CRITERION = re.compile(r"(action|name|header|method)\(([^()]*)\)")


class FilterSyntaxError(ValueError):
    """An ``eventfilter(...)`` key Asterisk would not accept."""


@dataclass(frozen=True)
class FilterRule:
    include: bool
    name: str | None
    header: str | None
    method: str
    value: str

    def matches(self, event: str, fields: Sequence[tuple[str, str]]) -> bool:
        if self.name is not None and self.name != event:
            return False
        if self.header is None:
            if self.method == "none":
                return True
            data = "".join(f"{k}: {v}\r\n" for k, v in fields)
            return self._match(data)
        lowered = self.header.lower()
        values = [v for k, v in fields if k.lower() == lowered]
        if not values:
            return False
        return self.method == "none" or any(self._match(v) for v in values)

    def _match(self, data: str) -> bool:
        m, v = self.method, self.value
        if m == "exact":
            return data == v
        if m == "starts_with":
            return data.startswith(v)
        if m == "ends_with":
            return data.endswith(v)
        if m == "contains":
            return v in data
        return re.search(v, data) is not None  # regex


def _may_match_raw(rule: FilterRule, block: bytes) -> bool:
    if rule.header is None:
        return True
    # Lowered as bytes, like the block (only ASCII letters change: "É" stays "É" on both).
    header = b"\r\n" + rule.header.encode().lower() + b":"
    if rule.method in ("exact", "starts_with"):
        value = rule.value.encode().lower()
        return header + b" " + value in block or header + value in block
    return header in block


def parse_rule(key: str, value: str) -> FilterRule:
    """One ``eventfilter(...) = value`` line (the key with its criteria)."""
    if not key.startswith("eventfilter(") or not key.endswith(")"):
        raise FilterSyntaxError(f"not an advanced event filter: {key!r}")
    body = key[len("eventfilter(") : -1]
    found: dict[str, str] = {}
    rest = _CRITERION.sub(lambda m: found.setdefault(m.group(1), m.group(2)) and "", body)
    if rest.replace(",", "").strip():
        raise FilterSyntaxError(f"unknown criteria in {key!r}")
    action = found.get("action", "include")
    method = found.get("method", "none")
    if action not in ("include", "exclude") or method not in METHODS:
        raise FilterSyntaxError(f"bad action or method in {key!r}")
    return FilterRule(action == "include", found.get("name"), found.get("header"), method, value)


class EventFilter:
    """A user's filter rules; :meth:`allows` is O(1) for events no rule names."""

    def __init__(self, rules: Iterable[FilterRule] = ()) -> None:
        self.rules = tuple(rules)
        self._includes: dict[str | None, list[FilterRule]] = {}
        self._excludes: dict[str | None, list[FilterRule]] = {}
        for rule in self.rules:
            target = self._includes if rule.include else self._excludes
            target.setdefault(rule.name, []).append(rule)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventFilter) and set(self.rules) == set(other.rules)

    def __hash__(self) -> int:
        return hash(frozenset(self.rules))

    @classmethod
    def from_lines(cls, lines: Iterable[tuple[str, str]]) -> EventFilter:
        """From ``(key, value)`` pairs; keys other than ``eventfilter(...)`` are ignored."""
        return cls(parse_rule(k, v) for k, v in lines if k.startswith("eventfilter("))

    def allows(self, fields: Sequence[tuple[str, str]] | Mapping[str, str]) -> bool:
        """Whether an event (its fields, ``Event`` first) reaches the user."""
        if not self.rules:
            return True
        pairs = list(fields.items()) if isinstance(fields, Mapping) else fields
        event = pairs[0][1] if pairs and pairs[0][0].lower() == "event" else ""
        if self._includes:
            candidates = self._includes.get(event, []) + self._includes.get(None, [])
            if not any(r.matches(event, pairs) for r in candidates):
                return False
        excludes = self._excludes.get(event, []) + self._excludes.get(None, [])
        return not any(r.matches(event, pairs) for r in excludes)

    def may_allow_raw(self, name: str, block: bytes) -> bool:
        """False only when an event called ``name`` whose raw block, lowercased and starting
        with ``\r\n``, is ``block`` is certainly dropped: no include rule could match it.

        Conservative (case is ignored, and header rules other than ``none``, ``exact`` and
        ``starts_with`` only ask that the header be there): True means "parse it and
        decide with :meth:`allows`". The client uses it to skip, unparsed, most of what a
        PBX without manager.conf's filter sends (issue 18)."""
        if not self._includes:
            return True
        candidates = self._includes.get(name, []) + self._includes.get(None, [])
        return any(_may_match_raw(rule, block) for rule in candidates)

    def event_names(self) -> set[str]:
        """The event names the include rules name (for documentation and tests)."""
        return {r.name for r in self.rules if r.include and r.name}


# What the backend uses (ami/events.py converts these; the tracker, the bridge and the
# dialer read them): the same lines as user [cac311] in asterisk_conf/manager.conf (a test
# keeps the two equal). AmiClient applies it too, so events a PBX without the filter sends
# are dropped before they become typed events.
BACKEND_EVENTS = (
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    "Hangup",
    "QueueMemberStatus",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "OriginateResponse",
    "FullyBooted",
    # Asterisk is stopping: the client drops the link at once (ami/client.py).
    "Shutdown",
)
BACKEND_FILTER = EventFilter(
    [FilterRule(True, name, None, "none", "") for name in BACKEND_EVENTS]
    + [
        FilterRule(True, "VarSet", "Variable", "starts_with", "CAC311_"),
        FilterRule(True, "VarSet", "Variable", "exact", "MIXMONITOR_FILENAME"),
    ]
)
