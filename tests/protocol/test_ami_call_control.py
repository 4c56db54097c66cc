"""Call control over AMI (hang up, hold/resume, blind and attended transfer, ChanSpy)
through our client against the simulator, with the actions and answers of a real Asterisk
22.10 (../shared/asterisk/2026-12-01/ami-call-control-hangup-hold-transfer,
ami-hold-resume-blindtransfer-caller, ami-chanspy-supervisor)."""

from __future__ import annotations

import pytest

from agent_desktop.ports import CallControlError, SpyMode
from ami.call_control import AmiCallControl, find_agent_channel
from ami.events import CoreShowChannel
from asterisk_sim.ami import ANSWERED, NO_ANSWER, AmiSimulator
from tests.protocol.test_ami_client import make_client, until
from tests.transcripts import load_jsonl

CALLER = "Local/q@cap-tests-00000007;2"
AGENT = "PJSIP/1001-00000005"
SERVER = "pbx-test"


@pytest.fixture
async def sim():
    # Every phone answers (the supervisor's PJSIP/1002 included).
    simulator = AmiSimulator(originate_policy=lambda channel: ANSWERED)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def control(sim: AmiSimulator):
    client = make_client(sim.port)
    await client.start()
    await client.wait_up(3)
    yield AmiCallControl({SERVER: client})
    await client.stop()


def _call(sim: AmiSimulator, *, bridged: bool = True) -> None:
    """A caller (Local ;2) and the agent's leg, bridged, as app_queue leaves them."""
    for name, uid in ((CALLER, "1796137460.20"), (AGENT, "1796137463.22")):
        sim.emit(
            {
                "Event": "Newchannel",
                "Channel": name,
                "Uniqueid": uid,
                "Linkedid": "1796137460.19",
                "ChannelState": "6",
                "ChannelStateDesc": "Up",
            }
        )
        if bridged:
            sim.emit({"Event": "BridgeEnter", "Uniqueid": uid, "BridgeUniqueid": "d3cf7b89"})


def _last(sim: AmiSimulator, action: str):  # type: ignore[no-untyped-def]
    found = [m for m in sim.actions if (m.get("Action") or "").lower() == action.lower()]
    assert found, action
    return found[-1]


def _transcript_action(name: str, action: str, containing: str = "") -> dict[str, str]:
    """The first ``action`` we sent in a transcript, as a dict (ActionID left out)."""
    for entry in load_jsonl(f"2026-12-01/{name}"):
        data = entry["data"]
        if entry["dir"] == "us" and f"Action: {action}\r\n" in data and containing in data:
            pairs = [line.split(": ", 1) for line in entry["data"].strip().split("\r\n")]
            return {k: v for k, v in pairs if k != "ActionID"}
    raise AssertionError(f"{action} not in {name}")


def _fields(message) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in message.fields if k != "ActionID"}


async def test_given_a_call_when_held_then_one_dual_redirect_and_resume_bridges_both_legs(
    sim, control
):
    _call(sim)
    await control.hold(SERVER, CALLER, "PJSIP/1001")
    redirect = _fields(_last(sim, "Redirect"))
    real = _transcript_action("ami-hold-resume-blindtransfer-caller", "Redirect")
    # The same action shape as the capture; only our contexts differ from its test ones.
    assert set(redirect) == set(real)
    assert (redirect["Channel"], redirect["ExtraChannel"]) == (CALLER, AGENT)
    assert (redirect["Context"], redirect["Exten"]) == ("cac311-hold", "moh")
    assert (redirect["ExtraContext"], redirect["ExtraExten"]) == ("cac311-hold", "wait")
    assert sim._find_channel(CALLER).context == "cac311-hold"  # type: ignore[union-attr]
    assert sim._find_channel(AGENT).exten == "wait"  # type: ignore[union-attr]

    await control.resume(SERVER, CALLER, "PJSIP/1001")
    bridge = _fields(_last(sim, "Bridge"))
    assert bridge == _transcript_action("ami-hold-resume-blindtransfer-caller", "Bridge")


async def test_given_a_call_when_transferred_blind_then_the_agent_channel_is_the_transferer(
    sim, control
):
    _call(sim)
    await control.transfer(SERVER, CALLER, "PJSIP/1001", "1002", attended=False)
    sent = _fields(_last(sim, "BlindTransfer"))
    real = _transcript_action("ami-hold-resume-blindtransfer-caller", "BlindTransfer")
    assert set(sent) == set(real) and sent["Channel"] == AGENT == real["Channel"]
    assert (sent["Context"], sent["Exten"]) == ("cac311-transfer", "1002")


async def test_given_no_atxfer_code_when_attended_transfer_then_the_agent_is_told_to_use_blind(
    sim, control
):
    _call(sim)
    sim.atxfer_feature_code = False
    with pytest.raises(CallControlError, match="transferencia con consulta"):
        await control.transfer(SERVER, CALLER, "PJSIP/1001", "1002", attended=True)
    sim.atxfer_feature_code = True
    await control.transfer(SERVER, CALLER, "PJSIP/1001", "1002", attended=True)
    sent = _fields(_last(sim, "Atxfer"))
    real = _transcript_action("ami-call-control-hangup-hold-transfer", "Atxfer")
    assert set(sent) == set(real) and sent["Channel"] == AGENT


async def test_given_a_call_when_hung_up_then_cause_16_and_a_second_hangup_says_it_ended(
    sim, control
):
    _call(sim)
    await control.hangup(SERVER, CALLER)
    sent = _fields(_last(sim, "Hangup"))
    assert sent == {
        **_transcript_action("ami-call-control-hangup-hold-transfer", "Hangup"),
        "Channel": CALLER,
    }
    await until(lambda: sim._find_channel(CALLER) is None)
    with pytest.raises(CallControlError, match="La llamada ya terminó"):
        await control.hangup(SERVER, CALLER)


@pytest.mark.parametrize(
    ("mode", "options"),
    [(SpyMode.LISTEN, "qE"), (SpyMode.WHISPER, "qEw"), (SpyMode.BARGE, "qEB")],
)
async def test_given_a_supervisor_when_spying_then_chanspy_with_the_mode_options(
    sim, control, mode, options
):
    _call(sim)
    await control.spy("PJSIP/1002", "PJSIP/1001", mode, '"Supervisora Sara" <1002>')
    sent = _fields(_last(sim, "Originate"))
    real = _transcript_action("ami-chanspy-supervisor", "Originate", "Application: ChanSpy")
    assert set(sent) == set(real)
    assert (sent["Application"], sent["Data"]) == ("ChanSpy", f"PJSIP/1001,{options}")
    assert sent["Channel"] == "PJSIP/1002"
    await until(
        lambda: (
            ("ChanSpy", "PJSIP/1002-", f"PJSIP/1001,{options}")
            in {(e[0], e[1][:11], e[2]) for e in getattr(sim, "call_control_log", [])}
        )
    )


async def test_given_a_supervisor_phone_that_does_not_answer_when_spying_then_it_is_said(
    sim, control
):
    _call(sim)
    sim.originate_policy = lambda channel: NO_ANSWER
    with pytest.raises(CallControlError, match="no contestó"):
        await control.spy("PJSIP/1002", "PJSIP/1001", SpyMode.LISTEN, "3-1-1")


def _csc(channel: str, *, linkedid: str, bridge: str | None) -> CoreShowChannel:
    return CoreShowChannel(
        server="s",
        received_at=None,  # type: ignore[arg-type]
        channel=channel,
        uniqueid=channel,
        linkedid=linkedid,
        caller_id_num=None,
        caller_id_name=None,
        context="",
        exten="",
        application="",
        application_data="",
        duration_seconds=0,
        bridge_id=bridge,
    )


def test_given_two_calls_of_one_phone_then_the_agent_channel_is_the_one_of_this_call():
    channels = [
        _csc(CALLER, linkedid="L1", bridge=None),
        _csc("PJSIP/1001-0000000a", linkedid="L0", bridge=None),
        _csc(AGENT, linkedid="L1", bridge=None),  # on hold: out of the bridge
        _csc("PJSIP/10010-00000001", linkedid="L1", bridge=None),  # another phone
    ]
    assert find_agent_channel(channels, CALLER, "PJSIP/1001") == AGENT
    with pytest.raises(CallControlError):
        find_agent_channel(channels, "Local/gone;2", "PJSIP/1001")
