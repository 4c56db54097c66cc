"""Property-based robustness of the parsers a hostile peer reaches (issue 15).

Hypothesis feeds the FastAGI reply parser, the AMI parser and the desk's HTTP form parsing
arbitrary bytes, cut into arbitrary chunks, and checks that:

- nothing but the parser's own protocol error (or the form's Spanish BadRequest) escapes;
- cutting the input differently never changes the result (incremental == whole);
- the work done per byte received is bounded by a constant (linear time). Work is counted
  as Python line events under ``sys.settrace``, which does not depend on the machine's load.

The budget is fixed (``derandomize``, a bounded number of examples) so CI runs the same
examples every time in a few seconds.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami.protocol import AmiParser, AmiProtocolError
from ivr.agi.errors import AgiProtocolError
from ivr.agi.protocol import AgiReplyParser

BUDGET = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Line events per byte: the linear parsers stay well under; re-parsing the buffer on every
# chunk (the bug of finding 1) grows with the input and blows through it.
MAX_WORK_PER_BYTE = 40
FIXED_COST = 400  # per call of the measured function, whatever its size


def work(fn) -> int:
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


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


AGI_LINES = st.sampled_from(
    [
        b"200 result=1\n",
        b"200 result=-1 endpos=0\n",
        b"200 result= (timeout)\n",
        b"200 result=49 (dtmf) endpos=1234\n",
        b"HANGUP\n",
        b"510 Invalid or unknown command\n",
        b"511 Command Not Permitted on a dead channel or intercept routine\n",
        b"520-Invalid command syntax.  Proper usage follows:\n",
        b" Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n",
        b"Example return code: 200 result=1 (testvariable)\n",
        b"520 End of proper usage.\n",
        b"\r\n",
    ]
)
AGI_STREAMS = st.one_of(
    st.lists(AGI_LINES, max_size=80).map(b"".join),
    st.binary(max_size=2000),
)


def _agi(chunks: list[bytes]) -> tuple[list, bytes, bool]:
    parser = AgiReplyParser()
    replies: list = []
    try:
        for chunk in chunks:
            replies.extend(parser.feed(chunk))
    except AgiProtocolError:
        return replies, b"", True
    return replies, parser.pending, False


@BUDGET
@given(AGI_STREAMS, st.lists(st.integers(min_value=0), max_size=40))
def test_agi_reply_parser_any_bytes_any_chunks(data, cuts):
    whole = _agi([data])
    parts = _agi(chunked(data, cuts))
    assert parts[2] == whole[2]  # refused either way, or accepted either way
    if not whole[2]:
        assert parts[0] == whole[0] and parts[1] == whole[1]
        assert b"".join(r.raw for r in whole[0]) + whole[1] == data  # nothing lost


@BUDGET
@given(st.integers(min_value=1, max_value=200), st.integers(min_value=1, max_value=64))
def test_agi_work_per_byte_is_bounded(n_lines, chunk):
    data = (
        b"HANGUP\n"
        + b"520-Invalid command syntax.  Proper usage follows:\n"
        + b" Usage: GET DATA <file> [timeout] [maxdigits]\n" * n_lines
        + b"520 End of proper usage.\n"
    )
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    spent = work(lambda: _agi(chunks))
    assert spent <= FIXED_COST + MAX_WORK_PER_BYTE * len(data)


AMI_PIECES = st.sampled_from(
    [
        b"Asterisk Call Manager/11.0.0\r\n",
        b"Event: QueueCallerJoin\r\n",
        b"Response: Success\r\n",
        b"ActionID: 42\r\n",
        b"Message: Invalid/unknown command: FooBar. Use Action: ListCommands\r\n",
        b"Output: line\r\n",
        b"Key:\r\n",
        b"no colon here\r\n",
        b"\r\n",
        b"\r",
        b"\n",
        "CallerIDName: Jos\u00e9 \u00d1u\u00f1ez\r\n".encode(),
        b"\xff\xfe\r\n",
    ]
)
AMI_STREAMS = st.one_of(
    st.lists(AMI_PIECES, max_size=120).map(b"".join), st.binary(max_size=3000)
)


def _ami(chunks: list[bytes]) -> tuple[list, bytes, bool]:
    parser = AmiParser()
    messages: list = []
    try:
        for chunk in chunks:
            messages.extend(parser.feed(chunk))
    except AmiProtocolError:
        return messages, b"", True
    return messages, parser.pending, False


@BUDGET
@given(AMI_STREAMS, st.lists(st.integers(min_value=0), max_size=40))
def test_ami_parser_any_bytes_any_chunks(data, cuts):
    whole = _ami([data])
    parts = _ami(chunked(data, cuts))
    assert parts == whole


@BUDGET
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=64))
def test_ami_work_per_byte_is_bounded(n_fields, chunk):
    data = (
        b"Event: Big\r\n"
        + b"".join(b"Output: %d\r\n" % i for i in range(n_fields))
        + b"\r\n"
    )
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    spent = work(lambda: _ami(chunks))
    assert spent <= FIXED_COST + MAX_WORK_PER_BYTE * len(data)


# ----------------------------------------------------------------------------- HTTP forms
FORM_BODIES = st.one_of(
    st.binary(max_size=4000),
    st.lists(
        st.tuples(
            st.sampled_from(["servicio_id", "ciudadano_id", "descripcion", "telefono", "x"]),
            st.one_of(
                st.text(max_size=40),
                st.integers().map(str),
                st.sampled_from(["2147483648", "%00", "%FF%FE", "=HYPERLINK(1)", "1e9"]),
            ),
        ),
        max_size=30,
    ).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv).encode("utf-8", "surrogatepass")),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
    ]
)


def _parse_form(body: bytes, content_type: str) -> None:
    from unittest import mock

    from aiohttp import streams
    from aiohttp.test_utils import make_mocked_request

    from agent_desktop.handlers.common import BadRequest, int_field, read_form, text_field

    async def run() -> None:
        protocol = mock.Mock(_reading_paused=False)
        payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        payload.feed_data(body)
        payload.feed_eof()
        request = make_mocked_request(
            "POST",
            "/casos",
            headers={"Content-Type": content_type, "Content-Length": str(len(body))},
            payload=payload,
            client_max_size=256 * 1024,
        )
        try:
            form = await read_form(request)
            for name in ("servicio_id", "ciudadano_id"):
                int_field(form, name)
            for name in ("descripcion", "telefono", "x"):
                text_field(form, name, max_length=4000)
        except BadRequest:
            pass

    asyncio.run(run())


@BUDGET
@given(FORM_BODIES, CONTENT_TYPES)
def test_form_parsing_any_body_is_a_value_or_a_bad_request(body, content_type):
    _parse_form(body, content_type)


@pytest.mark.parametrize("size", [1_000, 10_000, 100_000])
def test_form_parsing_work_per_byte_is_bounded(size):
    body = (b"descripcion=" + b"a%20" * (size // 4))[:size]
    spent = work(lambda: _parse_form(body, "application/x-www-form-urlencoded"))
    # The event loop's own start-up is the fixed cost; then aiohttp/urllib work per byte.
    assert spent <= 50_000 + MAX_WORK_PER_BYTE * len(body)


@BUDGET
@given(st.integers(min_value=1, max_value=120), st.integers(min_value=1, max_value=32))
def test_agi_environment_trickled_in_small_chunks_costs_linear_work(n_lines, chunk):
    from ivr.agi.protocol import AgiEnvironmentReader

    data = (
        b"agi_network: yes\n"
        + b"".join(b"agi_arg_%d: valor\n" % (i + 1) for i in range(n_lines))
        + b"\nANSWER-reply-bytes"
    )
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    reader = AgiEnvironmentReader()
    found = []

    def run() -> None:
        for c in chunks:
            env = reader.feed(c)
            if env is not None:
                found.append(env)
                return

    spent = work(run)
    assert found and len(found[0].args) == n_lines
    assert spent <= FIXED_COST + MAX_WORK_PER_BYTE * len(data)
