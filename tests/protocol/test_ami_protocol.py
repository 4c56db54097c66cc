"""The AMI parser and encoder against every recorded AMI transcript."""

from __future__ import annotations

import pytest

from ami.protocol import (
    AmiParser,
    Banner,
    Event,
    Response,
    Unknown,
    encode_action,
    encode_fields,
    parse_buffer,
)
from tests.transcripts import load_jsonl, transcript_dir

# The top folder (2026-11-23) and the 2026-12-01 captures (another run of Asterisk).
AMI_TRANSCRIPTS = sorted(
    str(p.relative_to(transcript_dir()).with_suffix(""))
    for pattern in ("ami-*.jsonl", "2026-12-01/ami-*.jsonl")
    for p in transcript_dir().glob(pattern)
)


def _is_marker(data: str) -> bool:
    return data.startswith("<") and data.endswith(">")


def _parse_asterisk_side(name: str, *, bytewise: bool = False) -> list:
    """Feed every Asterisk chunk (one parser per connection); return all messages."""
    messages: list = []
    parser = AmiParser()
    for row in load_jsonl(name):
        if row["dir"] != "asterisk":
            continue
        if _is_marker(row["data"]):
            assert parser.pending == b""
            parser = AmiParser()
            continue
        data = row["data"].encode("utf-8")
        if bytewise:
            for i in range(len(data)):
                messages.extend(parser.feed(data[i : i + 1]))
        else:
            messages.extend(parser.feed(data))
    assert parser.pending == b""
    return messages


def _txt_blocks(name: str) -> tuple[int, list[list[str]]]:
    """(banner count, blocks of '>> ' lines) from the readable NAME.txt."""
    banners = 0
    blocks: list[list[str]] = []
    current: list[str] = []
    text = (transcript_dir() / f"{name}.txt").read_text(encoding="utf-8")
    for line in text.split("\n"):
        if not line.startswith(">> "):
            continue
        body = line[3:]
        if body.startswith("Asterisk Call Manager/"):
            banners += 1
        elif _is_marker(body):
            continue
        elif body == "":
            blocks.append(current)
            current = []
        else:
            current.append(body)
    assert current == []
    return banners, blocks


def test_transcripts_are_present() -> None:
    assert len(AMI_TRANSCRIPTS) >= 10


@pytest.mark.parametrize("name", AMI_TRANSCRIPTS)
def test_given_recorded_chunks_when_parsed_then_every_block_matches_the_readable_txt(
    name: str,
) -> None:
    messages = _parse_asterisk_side(name)
    banners, blocks = _txt_blocks(name)
    assert sum(isinstance(m, Banner) for m in messages) == banners
    parsed_blocks = [m for m in messages if not isinstance(m, Banner)]
    assert len(parsed_blocks) == len(blocks)
    for message, lines in zip(parsed_blocks, blocks, strict=True):
        assert isinstance(message, Response | Event)
        # The .txt drops the stray "\n" some responses end Message with (the fields keep it).
        assert [f"{k}: {v.removesuffix(chr(10))}" for k, v in message.fields] == lines


@pytest.mark.parametrize(
    "name", ["ami-login-and-actions", "ami-queue-call-answered-late-and-redirect"]
)
def test_given_one_byte_chunks_when_parsed_then_same_messages(name: str) -> None:
    assert _parse_asterisk_side(name, bytewise=True) == _parse_asterisk_side(name)


def test_given_banner_then_version_and_first_response_split_correctly() -> None:
    messages = _parse_asterisk_side("ami-login-failed")
    assert messages == [
        Banner("Asterisk Call Manager/11.0.0"),
        Response(
            (
                ("Response", "Error"),
                ("ActionID", "login-bad"),
                ("Message", "Authentication failed"),
            )
        ),
    ]
    assert messages[0].version == "11.0.0"
    assert not messages[1].success


def test_given_duplicate_keys_and_colons_in_values_then_all_kept() -> None:
    messages = _parse_asterisk_side("ami-queue-call-answered-late-and-redirect")
    command = next(m for m in messages if isinstance(m, Response) and m.action_id == "cmd-1")
    outputs = command.get_all("Output")
    assert len(outputs) == 6
    assert outputs[0].startswith("cac311 has 0 calls")
    assert outputs[-1] == ""
    unknown = next(
        m
        for m in _parse_asterisk_side("ami-login-and-actions")
        if isinstance(m, Response) and m.action_id == "unknown-1"
    )
    assert unknown.message == (
        "Invalid/unknown command: FooBar. Use Action: ListCommands to show available commands."
    )


def test_given_event_with_response_key_then_first_key_decides_type() -> None:
    messages = _parse_asterisk_side("ami-originate-callbacks")
    originate = [m for m in messages if isinstance(m, Event) and m.name == "OriginateResponse"]
    assert len(originate) == 6
    assert originate[1].get("response") == "Failure"  # lookups ignore case


def test_given_empty_last_value_then_kept() -> None:
    channels = [
        m
        for m in _parse_asterisk_side("ami-resync-ringnoanswer-timeout")
        if isinstance(m, Event) and m.name == "CoreShowChannel"
    ]
    assert channels and all(m.fields[-1] == ("BridgeId", "") for m in channels)


def test_given_partial_data_then_rest_returned_and_banner_still_awaited() -> None:
    messages, rest, expect = parse_buffer(b"Asterisk Call Man", expect_banner=True)
    assert (messages, rest, expect) == ([], b"Asterisk Call Man", True)
    messages, rest, expect = parse_buffer(
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: a", expect_banner=True
    )
    assert messages == [Banner("Asterisk Call Manager/11.0.0")]
    assert rest == b"Response: Success\r\nActionID: a"
    assert expect is False


def test_given_block_without_response_or_event_then_unknown() -> None:
    messages, rest, _ = parse_buffer(b"Action: Ping\r\nActionID: 1\r\n\r\n", expect_banner=False)
    assert messages == [Unknown((("Action", "Ping"), ("ActionID", "1")))]
    assert rest == b""


def _us_blocks() -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    out = []
    for name in AMI_TRANSCRIPTS:
        for row in load_jsonl(name):
            if row["dir"] == "us":
                msgs, rest, _ = parse_buffer(row["data"].encode(), expect_banner=False)
                assert rest == b""
                out.extend((name, m.fields) for m in msgs)
    return out


def test_encoder_reproduces_the_simple_recorded_actions_byte_for_byte() -> None:
    ping = next(r["data"] for r in load_jsonl("ami-login-and-actions") if "Ping" in r["data"])
    assert encode_action("Ping", "ping-1") == ping.encode()
    logoff = next(r["data"] for r in load_jsonl("ami-login-and-actions") if "Logoff" in r["data"])
    assert encode_action("Logoff", "logoff-1") == logoff.encode()


def test_encoder_produces_every_recorded_action_with_the_same_fields() -> None:
    blocks = _us_blocks()
    assert len(blocks) > 40
    for _, fields in blocks:
        action = dict(fields)["Action"]
        aid = dict(fields)["ActionID"]
        rest = [(k, v) for k, v in fields if k not in ("Action", "ActionID")]
        data = encode_action(action, aid, rest)
        assert data.startswith(f"Action: {action}\r\nActionID: {aid}\r\n".encode())
        assert data.endswith(b"\r\n\r\n")
        (parsed,), _, _ = parse_buffer(data, expect_banner=False)
        assert sorted(parsed.fields) == sorted(fields)  # Variable lines kept, in order


def test_encoder_types_and_injection() -> None:
    data = encode_fields({"Async": True, "Paused": False, "Skip": None, "Variable": ["A=1", "B=2"]})
    assert data == b"Async: true\r\nPaused: false\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    with pytest.raises(ValueError):
        encode_action("Setvar", "x", {"Value": "a\r\nAction: Originate"})


def test_given_a_message_ending_in_a_stray_newline_then_fields_keep_it_and_message_drops_it():
    """2026-12-01/ami-call-control-hangup-hold-transfer: ``Message: Park successful\\n\\r\\n``."""
    rows = load_jsonl("2026-12-01/ami-call-control-hangup-hold-transfer")
    raw = next(r["data"] for r in rows if "Park successful" in r["data"])
    assert "Message: Park successful\n\r\n" in raw
    messages = AmiParser(expect_banner=False).feed(raw.encode()[raw.encode().index(b"Response"):])
    response = next(m for m in messages if isinstance(m, Response))
    assert response.get("Message") == "Park successful\n"
    assert response.message == "Park successful"
