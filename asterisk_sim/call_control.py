"""Call-control actions of the AMI simulator: Hangup, Bridge, BlindTransfer, Atxfer, and the
ChanSpy side of an Originate with ``Application``.

Responses are Asterisk 22.10's as captured in ``../shared/asterisk/2026-12-01/``:

- ``Hangup``: ``Channel Hungup``; an unknown channel ``No such channel``
  (ami-call-control-hangup-hold-transfer).
- ``Redirect`` with ``ExtraChannel``: ``Dual Redirect successful``
  (ami-hold-resume-blindtransfer-caller; the single form answers ``Redirect successful``).
- ``Bridge``: ``Channels have been bridged`` (ami-hold-resume-blindtransfer-caller).
- ``BlindTransfer``: ``Transfer succeeded``, whichever party is ``Channel``
  (both transcripts).
- ``Atxfer``: ``No attended transfer feature code found`` without a features.conf
  ``atxfer`` code, else ``Atxfer successfully queued``
  (ami-call-control-hangup-hold-transfer).
- ChanSpy by ``Originate Application: ChanSpy``: ``ChanSpyStart`` once the spying phone
  answers; its fields are the same for listen (``qE``), whisper (``qEw``) and barge
  (``qEB``) (ami-chanspy-supervisor).

Marked ``unverified`` where no transcript shows the answer (errors of Bridge and
BlindTransfer on a missing channel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asterisk_sim.ami import SimChannel


class CallControlActions:
    """Mixed into :class:`asterisk_sim.ami.AmiSimulator`."""

    # Set False to answer Atxfer as a PBX without ``atxfer`` in features.conf does.
    atxfer_feature_code: bool = True
    # (action, channel, extra) of every call-control action accepted, for tests.
    call_control_log: list[tuple[str, ...]]

    def _cc_log(self, *entry: str) -> None:
        log = getattr(self, "call_control_log", None)
        if log is None:
            log = self.call_control_log = []
        log.append(entry)

    def _hangup(self: Any, session: Any, m: Any) -> None:
        aid = m.action_id
        name = m.get("Channel") or ""
        ch: SimChannel | None = self._find_channel(name)
        if ch is None:
            self._error(session, aid, "No such channel")
            return
        self._ok(session, aid, "Channel Hungup")
        self._cc_log("Hangup", name)
        self.hangups.append(name)
        self.emit(
            [
                ("Event", "Hangup"),
                ("Privilege", "call,all"),
                ("Channel", ch.name),
                ("Uniqueid", ch.uniqueid),
                ("Linkedid", ch.linkedid),
                ("Cause", m.get("Cause") or "16"),
                ("Cause-txt", "Normal Clearing"),
            ]
        )

    def _bridge(self: Any, session: Any, m: Any) -> None:
        aid = m.action_id
        one, two = m.get("Channel1") or "", m.get("Channel2") or ""
        first, second = self._find_channel(one), self._find_channel(two)
        if first is None:
            self._error(session, aid, f"Channel1 does not exist: {one}")  # unverified
            return
        if second is None:
            self._error(session, aid, f"Channel2 does not exist: {two}")  # unverified
            return
        self._counter += 1
        bridge = f"sim-bridge-{self._counter:08x}"
        first.bridge_id = second.bridge_id = bridge
        first.application = second.application = ""
        self._ok(session, aid, "Channels have been bridged")
        self._cc_log("Bridge", one, two)

    def _blind_transfer(self: Any, session: Any, m: Any) -> None:
        aid = m.action_id
        name = m.get("Channel") or ""
        if self._find_channel(name) is None:
            self._error(session, aid, "No such channel")  # unverified
            return
        self._ok(session, aid, "Transfer succeeded")
        self._cc_log("BlindTransfer", name, f"{m.get('Context')},{m.get('Exten')}")

    def _atxfer(self: Any, session: Any, m: Any) -> None:
        aid = m.action_id
        name = m.get("Channel") or ""
        if not self.atxfer_feature_code:
            self._error(session, aid, "No attended transfer feature code found")
            return
        if self._find_channel(name) is None:
            self._error(session, aid, "No such channel")  # unverified
            return
        self._ok(session, aid, "Atxfer successfully queued")
        self._cc_log("Atxfer", name, f"{m.get('Context')},{m.get('Exten')}")

    def _chanspy_started(self: Any, spyer: str, data: str) -> None:
        """After an answered ``Originate Application: ChanSpy``: ``ChanSpyStart`` when a
        channel of the spied interface exists (``Data: PJSIP/1001,qE``)."""
        target = data.split(",", 1)[0]
        spyee = next(
            (c for c in self.channels.values() if c.name.startswith(target + "-")), None
        )
        if spyee is None:
            return
        self._cc_log("ChanSpy", spyer, data)
        self.emit(
            [
                ("Event", "ChanSpyStart"),
                ("Privilege", "call,all"),
                ("SpyerChannel", spyer),
                ("SpyeeChannel", spyee.name),
                ("SpyeeUniqueid", spyee.uniqueid),
                ("SpyeeLinkedid", spyee.linkedid),
            ]
        )
