"""The pure FastAGI parsers against every byte Asterisk 22 sent in the agi-* transcripts."""

from __future__ import annotations

import pytest

from asterisk_sim.agi import parse_agi_args
from ivr.agi.errors import AgiProtocolError
from ivr.agi.protocol import (
    AgiReplyParser,
    build_command,
    parse_environment,
    parse_replies,
    quote_arg,
)
from tests.transcripts import load_chunks

AGI_TRANSCRIPTS = ["agi-inbound-happy", "agi-hangup-midway", "agi-errors", "agi-callback-survey"]


def split_transcript(name: str) -> tuple[bytes, list[bytes], list[bytes]]:
    """(env block, commands, the reply bytes that followed each command)."""
    env = b""
    commands: list[bytes] = []
    replies: list[bytes] = []
    in_env = True
    for c in load_chunks(name):
        if c.dir == "asterisk":
            if in_env:
                env += c.data
                in_env = c.data != b"\n"
            else:
                replies[-1] += c.data
        elif not c.data.startswith(b"<"):
            commands.append(c.data)
            replies.append(b"")
    return env, commands, replies


# (code, result, data, endpos, hangup_seen) for every reply, in transcript order.
EXPECTED = {
    "agi-inbound-happy": [
        (200, "0", None, None, False),
        (200, "1", None, None, False),
        (200, "6", None, None, False),
        (200, "1", "es", None, False),
        (200, "0", None, None, False),
        (200, "1", "62345678-1795475111.1", None, False),
        (200, "1", None, None, False),
        (200, "1", "queja", None, False),
        (200, "0", None, 8000, False),
        (200, "49", None, 21600, False),
        (200, "8*123*4567", None, None, False),
        (200, "", "timeout", None, False),
        (200, "0", None, None, False),
        (200, "0", None, None, False),
        (200, "0", None, None, False),
        (200, "0", None, None, False),
        (200, "-1", None, 0, False),
        (200, "1", None, None, False),
    ],
    "agi-hangup-midway": [
        (200, "0", None, None, False),
        (200, "-1", None, None, False),
        (200, "1", "es", None, True),
        (511, None, None, None, False),
        (200, "1", None, None, False),
    ],
    "agi-errors": [
        (200, "0", None, None, False),
        (510, None, None, None, False),
        (520, None, None, None, False),
        (520, None, None, None, False),
        (520, None, None, None, False),
        (520, None, None, None, False),
        (200, "-2", None, None, False),
        (520, None, None, None, False),
    ],
    "agi-callback-survey": [
        (200, "0", None, None, False),
        (200, "1", "cb-1001", None, False),
        (200, "0", None, 8000, False),
        (200, "1", None, None, False),
        (200, "4", None, None, False),
        (200, "", "timeout", None, False),
    ],
}


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_given_transcript_replies_when_parsed_whole_then_each_reply_is_byte_exact(name):
    _, commands, replies = split_transcript(name)
    stream = b"".join(replies)

    parsed, rest = parse_replies(stream)

    assert rest == b""
    assert len(parsed) == len(commands)
    assert [r.raw for r in parsed] == replies
    got = [(r.code, r.result, r.data, r.endpos, r.hangup_seen) for r in parsed]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_given_transcript_replies_when_fed_byte_by_byte_then_same_replies(name):
    _, _, replies = split_transcript(name)
    whole, _ = parse_replies(b"".join(replies))
    parser = AgiReplyParser()
    got = []
    for i, byte in enumerate(b"".join(replies)):
        got.extend(parser.feed(bytes([byte])))
        # A reply appears only when its last byte has arrived, never earlier.
        assert sum(len(r.raw) for r in got) <= i + 1
    assert got == whole
    assert parser.pending == b""


def test_given_520_block_when_parsed_then_text_keeps_usage_lines_including_fake_200_line():
    _, _, replies = split_transcript("agi-errors")
    reply = parse_replies(replies[-1])[0][0]
    lines = reply.text.splitlines()
    assert reply.code == 520
    assert lines[0] == "Invalid command syntax.  Proper usage follows:"
    assert "Example return code: 200 result=1 (testvariable)" in lines
    assert lines[-1] == "End of proper usage."


def test_given_510_and_511_when_parsed_then_text_is_the_message():
    _, _, errs = split_transcript("agi-errors")
    _, _, hang = split_transcript("agi-hangup-midway")
    assert parse_replies(errs[1])[0][0].text == "Invalid or unknown command"
    assert (
        parse_replies(hang[3])[0][0].text
        == "Command Not Permitted on a dead channel or intercept routine"
    )


def test_given_hangup_line_alone_when_parsed_then_nothing_is_consumed():
    replies, rest = parse_replies(b"200 result=-1\nHANGUP\n")
    assert [r.result for r in replies] == ["-1"]
    assert rest == b"HANGUP\n"
    replies, rest = parse_replies(rest + b"200 result=1 (es)\n")
    assert replies[0].hangup_seen and replies[0].data == "es" and rest == b""


def test_given_partial_520_block_when_parsed_then_nothing_is_consumed():
    block = split_transcript("agi-errors")[2][2]
    for cut in range(len(block)):
        replies, rest = parse_replies(block[:cut])
        assert replies == [] and rest == block[:cut]


def test_given_data_with_parentheses_and_endpos_when_parsed_then_split_correctly():
    reply = parse_replies(b"200 result=1 (a (b) c) endpos=1234\n")[0][0]
    assert (reply.result, reply.data, reply.endpos) == ("1", "a (b) c", 1234)
    reply = parse_replies(b"200 result=12 (timeout)\n")[0][0]
    assert (reply.result, reply.data) == ("12", "timeout")


def test_given_garbage_reply_line_when_parsed_then_protocol_error():
    with pytest.raises(AgiProtocolError):
        parse_replies(b"hello there\n")


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_given_transcript_env_block_when_parsed_then_all_keys_and_nothing_left(name):
    env_bytes, commands, _ = split_transcript(name)

    env, rest = parse_environment(env_bytes + commands[0])

    assert env is not None
    assert rest == commands[0]
    assert env.values["agi_version"] == "22.10.1"
    assert env.values["agi_accountcode"] == ""
    assert env.request.endswith("/" + env.network_script)
    assert len(env.values) == env_bytes.count(b"\n") - 1
    # Nothing is returned until the empty line has arrived.
    for cut in range(len(env_bytes)):
        assert parse_environment(env_bytes[:cut]) == (None, env_bytes[:cut])


def test_given_inbound_env_when_parsed_then_properties_are_typed_views():
    env, _ = parse_environment(split_transcript("agi-inbound-happy")[0])
    assert env is not None
    assert env.network_script == "inbound"
    assert env.args == ("first", "second")
    assert env.uniqueid == "1795475111.1"
    assert env.channel == "Local/311@cac311-inbound-00000000;2"
    assert (env.callerid, env.calleridname) == ("62345678", "Maria Perez")
    assert (env.language, env.extension, env.dnid, env.context) == (
        "es",
        "311",
        "unknown",
        "cac311-inbound",
    )
    assert env.linkedid is None  # Asterisk 22 does not send agi_linkedid
    assert env.get("threadid") == "140074839385792"


@pytest.mark.parametrize(
    "data",
    [b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00", b"agi_network yes\n", b"\n"],
)
def test_given_garbage_env_when_parsed_then_protocol_error(data):
    with pytest.raises(AgiProtocolError):
        parse_environment(data)


def test_given_oversize_env_when_parsed_then_protocol_error():
    with pytest.raises(AgiProtocolError):
        parse_environment(b"agi_x: " + b"a" * 70_000)


@pytest.mark.parametrize(
    "value",
    ["", "plain", "with space", 'say "hola"', "back\\slash", "ñandú 8-123-4567", "\t"],
)
def test_given_any_argument_when_quoted_then_asterisk_parse_args_reads_it_back(value):
    line = build_command("SET", "VARIABLE", "X", quote_arg(value)).decode().rstrip("\n")
    assert parse_agi_args(line) == ["SET", "VARIABLE", "X", value]


def test_given_newline_in_argument_when_quoted_then_refused():
    with pytest.raises(ValueError):
        quote_arg("a\nHANGUP")


def test_given_transcript_quoting_when_quoting_then_same_words():
    assert quote_arg("", always=True) == '""'
    assert quote_arg("0123456789*#", always=True) == '"0123456789*#"'
    assert quote_arg("silence/1") == "silence/1"
    assert quote_arg("${CALLERID(num)}-${UNIQUEID}") == "${CALLERID(num)}-${UNIQUEID}"
