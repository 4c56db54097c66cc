"""Finding 1 (issue 15): the AGI reply and AMI parsers are bounded and incremental.

A hostile or broken peer that sends an endless 520 usage block, endless ``HANGUP`` lines or an
AMI message without its empty line is refused after a bounded number of bytes, and the work
done per byte received does not grow with the size of the buffer.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from ami.protocol import MAX_MESSAGE_BYTES, AmiParser, AmiProtocolError
from ivr.agi import AgiChannel, FastAgiServer
from ivr.agi.errors import AgiProtocolError
from ivr.agi.protocol import MAX_REPLY_BYTES, AgiReplyParser

USAGE_LINE = b"      Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"


def traced_lines(fn) -> int:
    """Python line events executed by ``fn()`` (a work measure that ignores the clock)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def feed_all(parser, chunks) -> None:
    for chunk in chunks:
        parser.feed(chunk)


def test_given_endless_520_usage_block_when_fed_then_refused_within_the_reply_bound():
    parser = AgiReplyParser()
    parser.feed(b"520-Invalid command syntax.  Proper usage follows:\n")
    fed = 0
    with pytest.raises(AgiProtocolError):
        for _ in range(2 * 1024 * 1024 // len(USAGE_LINE)):  # 2 MB, as in the finding
            parser.feed(USAGE_LINE)
            fed += len(USAGE_LINE)
    assert fed <= MAX_REPLY_BYTES


def test_given_endless_hangup_lines_when_fed_then_refused_after_a_few():
    parser = AgiReplyParser()
    with pytest.raises(AgiProtocolError):
        for _ in range(100_000):
            parser.feed(b"HANGUP\n")


def test_given_one_endless_agi_line_when_fed_then_refused():
    parser = AgiReplyParser()
    with pytest.raises(AgiProtocolError):
        for _ in range(1024):
            parser.feed(b"2" * 4096)


def test_given_ami_message_without_empty_line_when_fed_then_refused_after_the_bound():
    parser = AmiParser(expect_banner=False)
    chunk = b"Event: Flood\r\nKey: " + b"x" * 4000 + b"\r\n"
    fed = 0
    with pytest.raises(AmiProtocolError):
        for _ in range(52 * 1024 * 1024 // len(chunk)):  # 52 MB, as in the finding
            parser.feed(chunk)
            fed += len(chunk)
    assert fed <= MAX_MESSAGE_BYTES + len(chunk)


def test_given_endless_ami_banner_when_fed_then_refused():
    parser = AmiParser()
    with pytest.raises(AmiProtocolError):
        for _ in range(1024):
            parser.feed(b"A" * 1024)


def _agi_work(n_lines: int) -> int:
    parser = AgiReplyParser()
    chunks = [b"520-Invalid command syntax.\n", *([b"usage\n"] * n_lines), b"520 End.\n"]
    return traced_lines(lambda: feed_all(parser, chunks))


def test_given_a_multiline_reply_fed_line_by_line_then_work_grows_linearly():
    small, large = _agi_work(20), _agi_work(200)
    # Quadratic re-parsing (the old parser) would be ~100x; linear is ~10x.
    assert large < 15 * small


def _ami_work(n_chunks: int) -> int:
    parser = AmiParser(expect_banner=False)
    body = b"Event: Big\r\n" + b"".join(b"Output: line %d\r\n" % i for i in range(n_chunks))
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)] + [b"\r\n"]
    return traced_lines(lambda: feed_all(parser, chunks))


def test_given_a_long_ami_message_fed_in_small_chunks_then_work_grows_linearly():
    small, large = _ami_work(50), _ami_work(500)
    assert large < 15 * small


async def test_given_fastagi_peer_flooding_520_lines_when_connected_then_dropped():
    calls_started = asyncio.Event()

    async def flow(ch: AgiChannel) -> None:
        calls_started.set()
        await ch.answer()

    server = FastAgiServer({"flow": flow}, "127.0.0.1", 0, env_timeout=2, command_timeout=30)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\nagi_network_script: flow\nagi_uniqueid: 1.1\n\n")
        assert (await asyncio.wait_for(reader.readline(), 5)) == b"ANSWER\n"
        writer.write(b"520-Invalid command syntax.  Proper usage follows:\n")
        closed = False
        for _ in range(4 * 1024 * 1024 // (len(USAGE_LINE) * 64)):  # up to 4 MB
            try:
                writer.write(USAGE_LINE * 64)
                await writer.drain()
            except (ConnectionError, OSError):
                closed = True
                break
            if reader.at_eof():
                closed = True
                break
            await asyncio.sleep(0)
        if not closed:
            closed = (await asyncio.wait_for(reader.read(), 5)) == b""
        assert closed
        writer.close()
    finally:
        await server.stop()
