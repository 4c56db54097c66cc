"""FastAGI wire protocol: pure parsers, no I/O (bytes in, typed messages out, rest returned).

What Asterisk 22 sends (see ../shared/asterisk/agi-*.jsonl), every line ending in a bare ``\\n``:

* An environment block: ``agi_key: value`` lines, then one empty line. Empty values keep the
  space after the colon (``agi_accountcode: \\n``). ``agi_arg_1``..``agi_arg_N`` carry the
  arguments of ``AGI(agi://host:port/route,arg1,arg2)``; ``agi_network_script`` is the route.
  Asterisk 22 does not send ``agi_linkedid`` (read ``CHANNEL(linkedid)`` instead).
* One reply per command: ``200 result=X [(data)] [endpos=N]``. ``result`` may be empty
  (``200 result= (timeout)`` from GET DATA with no key). GET DATA's result is the digit string;
  STREAM FILE / WAIT FOR DIGIT / SAY * return the ASCII code of the key (``49`` = ``1``).
* ``HANGUP`` is an extra, unsolicited line that Asterisk writes as soon as it notices the channel
  hung up; the next result line follows it. The parser attaches it to that next reply
  (``hangup_seen``), and never consumes a ``HANGUP`` line alone.
* ``510 Invalid or unknown command``; ``511 Command Not Permitted on a dead channel or intercept
  routine``; bad usage is multi-line: ``520-Invalid command syntax.  Proper usage follows:``,
  free-text usage lines (which may themselves contain ``200 result=1 (...)``), and a final
  ``520 End of proper usage.``. A partial 520 block is never split into several replies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.agi.errors import AgiProtocolError

#: Largest environment block accepted (a real one is under 1 KiB).
MAX_ENV_BYTES = 64 * 1024
#: Largest single reply line accepted before we call the peer broken.
MAX_LINE_BYTES = 16 * 1024
#: Largest reply, all its lines together (a real 520 usage block is under 2 KiB).
MAX_REPLY_BYTES = 64 * 1024
#: Most lines in one reply (a real 520 usage block has about 20).
MAX_REPLY_LINES = 256
#: Most ``HANGUP`` notices in front of one reply (Asterisk writes one).
MAX_HANGUP_LINES = 4

_HANGUP_LINE = b"HANGUP"
_STATUS_RE = re.compile(rb"^(\d{3})([ -])(.*)$", re.DOTALL)
_ENDPOS_RE = re.compile(r"^(.*?)\s*endpos=(-?\d+)$", re.DOTALL)


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` variables Asterisk sends before the first command."""

    values: Mapping[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        """Value of ``key`` (with or without the ``agi_`` prefix)."""
        if not key.startswith("agi_"):
            key = "agi_" + key
        return self.values.get(key, default)

    def _str(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def network_script(self) -> str:
        """The route: the path of ``agi://host:port/route`` (``agi_network_script``)."""
        return self._str("agi_network_script")

    @property
    def request(self) -> str:
        """The full AGI URL."""
        return self._str("agi_request")

    @property
    def args(self) -> tuple[str, ...]:
        """``agi_arg_1`` .. ``agi_arg_N`` in order."""
        out: list[str] = []
        n = 1
        while f"agi_arg_{n}" in self.values:
            out.append(self.values[f"agi_arg_{n}"])
            n += 1
        return tuple(out)

    @property
    def uniqueid(self) -> str:
        """The channel's unique id."""
        return self._str("agi_uniqueid")

    @property
    def channel(self) -> str:
        """The channel name, e.g. ``PJSIP/trunk-00000001``."""
        return self._str("agi_channel")

    @property
    def callerid(self) -> str:
        """Caller number as Asterisk sends it (``unknown`` when absent). Personal data."""
        return self._str("agi_callerid")

    @property
    def calleridname(self) -> str:
        """Caller name as Asterisk sends it (``unknown`` when absent). Personal data."""
        return self._str("agi_calleridname")

    @property
    def language(self) -> str:
        """Channel language (``es``)."""
        return self._str("agi_language")

    @property
    def linkedid(self) -> str | None:
        """``agi_linkedid`` if present (Asterisk 22 does not send it)."""
        return self.values.get("agi_linkedid")

    @property
    def dnid(self) -> str:
        """Dialed number (``unknown`` on Local channels)."""
        return self._str("agi_dnid")

    @property
    def extension(self) -> str:
        """Dialplan extension running the AGI."""
        return self._str("agi_extension")

    @property
    def context(self) -> str:
        """Dialplan context running the AGI."""
        return self._str("agi_context")


def parse_environment(buffer: bytes) -> tuple[AgiEnvironment | None, bytes]:
    """Parse the environment block; ``(None, buffer)`` until its empty line has arrived.

    Raises AgiProtocolError on a line that is not ``agi_key: value`` or an oversize block.
    """
    values: dict[str, str] = {}
    pos = 0
    while True:
        nl = buffer.find(b"\n", pos)
        if nl < 0:
            _check_partial_env(buffer, pos)
            return None, buffer
        line = buffer[pos:nl]
        pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if not values:
                raise AgiProtocolError("empty environment block")
            return AgiEnvironment(values), buffer[pos:]
        key, value = _parse_env_line(line)
        values[key] = value
        if pos > MAX_ENV_BYTES:
            raise AgiProtocolError("environment block too large")


class AgiEnvironmentReader:
    """Incremental `parse_environment`: the block is parsed once, when its empty line (or
    more than `MAX_ENV_BYTES`) has arrived, so a peer that trickles it byte by byte costs
    linear time. The first chunk is checked at once so garbage is refused early."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._checked = False
        self.rest = b""

    def feed(self, data: bytes) -> AgiEnvironment | None:
        """Add bytes; the environment once complete (then `rest` holds what follows)."""
        tail_from = max(0, len(self._buf) - 2)
        self._buf += data
        tail = self._buf[tail_from:]
        if self._checked and len(self._buf) <= MAX_ENV_BYTES and not (
            b"\n\n" in tail or b"\n\r\n" in tail
        ):
            return None
        self._checked = True
        env, rest = parse_environment(bytes(self._buf))
        if env is not None:
            self.rest = rest
        return env


def _check_partial_env(buffer: bytes, pos: int) -> None:
    if len(buffer) > MAX_ENV_BYTES:
        raise AgiProtocolError("environment block too large")
    tail = buffer[pos:]
    # Fail early on garbage instead of waiting for a newline that may never come.
    if tail and not (b"agi_".startswith(tail[:4]) or tail.startswith(b"agi_")):
        raise AgiProtocolError("not an AGI environment line")


def _parse_env_line(line: bytes) -> tuple[str, str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgiProtocolError("environment line is not UTF-8") from exc
    key, sep, value = text.partition(":")
    if not sep or not key.startswith("agi_") or not key[4:].replace("_", "").isalnum():
        raise AgiProtocolError("not an AGI environment line")
    if value.startswith(" "):
        value = value[1:]
    return key, value


@dataclass(frozen=True)
class AgiReply:
    """One reply from Asterisk.

    ``result`` is the raw text after ``result=`` (may be empty); ``data`` the text in
    parentheses; ``text`` the message of non-200 replies (all lines of a 520 block, prefixes
    removed) or trailing free text of a 200 reply; ``raw`` the exact bytes consumed.
    """

    code: int
    result: str | None = None
    data: str | None = None
    endpos: int | None = None
    hangup_seen: bool = False
    text: str = ""
    raw: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        """True for a 200 reply."""
        return self.code == 200

    @property
    def result_int(self) -> int | None:
        """``result`` as an int, or None when it is empty or not a number."""
        if self.result is None:
            return None
        try:
            return int(self.result)
        except ValueError:
            return None


def parse_replies(buffer: bytes) -> tuple[list[AgiReply], bytes]:
    """Parse every complete reply in ``buffer``; return them and the unparsed rest."""
    parser = AgiReplyParser()
    replies = parser.feed(buffer)
    return replies, parser.pending


def _parse_200(body: str, hangup_seen: bool, raw: bytes) -> AgiReply:
    if not body.startswith("result="):
        return AgiReply(code=200, text=body, hangup_seen=hangup_seen, raw=raw)
    rest = body[len("result=") :]
    result, _, tail = rest.partition(" ")
    endpos: int | None = None
    m = _ENDPOS_RE.match(tail)
    if m:
        tail, endpos = m.group(1), int(m.group(2))
    data: str | None = None
    text = ""
    if tail.startswith("(") and tail.endswith(")"):
        data = tail[1:-1]
    else:
        text = tail
    return AgiReply(
        code=200,
        result=result,
        data=data,
        endpos=endpos,
        hangup_seen=hangup_seen,
        text=text,
        raw=raw,
    )


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


class AgiReplyParser:
    """Incremental, bounded reply parser: every byte is looked at once (linear time).

    State between feeds: the lines of the reply in progress (``HANGUP`` notices, the lines
    of a 520 usage block) and at most one incomplete line. Bounds: a line longer than
    `MAX_LINE_BYTES`, a reply longer than `MAX_REPLY_BYTES` or `MAX_REPLY_LINES`, or more
    than `MAX_HANGUP_LINES` ``HANGUP`` notices in front of one reply raise AgiProtocolError:
    the caller drops the peer (a real Asterisk never comes near them).
    """

    def __init__(self) -> None:
        self._buf = bytearray()  # at most one incomplete line after each feed
        self._raw: list[bytes] = []  # lines (with EOL) of the reply in progress
        self._raw_bytes = 0
        self._hangups = 0
        self._usage: list[str] | None = None  # lines of a 520 block in progress

    def feed(self, data: bytes) -> list[AgiReply]:
        """Add bytes; return the replies they complete."""
        replies: list[AgiReply] = []
        buf = self._buf
        # Only the incomplete line kept from the last feed needs scanning again, and it is
        # bounded by MAX_LINE_BYTES, so the work stays proportional to the bytes received.
        buf += data
        pos = 0
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            if nl - pos > MAX_LINE_BYTES:
                raise AgiProtocolError("reply line too long")
            raw_line = bytes(buf[pos : nl + 1])
            pos = nl + 1
            reply = self._on_line(raw_line)
            if reply is not None:
                replies.append(reply)
        del buf[:pos]
        if len(buf) > MAX_LINE_BYTES:
            raise AgiProtocolError("reply line too long")
        return replies

    def _on_line(self, raw_line: bytes) -> AgiReply | None:
        line = raw_line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        self._raw.append(raw_line)
        self._raw_bytes += len(raw_line)
        if self._raw_bytes > MAX_REPLY_BYTES or len(self._raw) > MAX_REPLY_LINES:
            raise AgiProtocolError("reply too long")
        if self._usage is not None:
            m = _STATUS_RE.match(line)
            if m and m.group(1) == b"520" and m.group(2) == b" ":
                self._usage.append(_decode(m.group(3)))
                return self._finish(code=520, text="\n".join(self._usage))
            self._usage.append(_decode(line))
            return None
        if line == _HANGUP_LINE:
            self._hangups += 1
            if self._hangups > MAX_HANGUP_LINES:
                raise AgiProtocolError("too many HANGUP lines")
            return None
        m = _STATUS_RE.match(line)
        if not m:
            raise AgiProtocolError("unexpected line from Asterisk")
        code = int(m.group(1))
        body = _decode(m.group(3))
        if m.group(2) == b"-":
            self._usage = [body]
            return None
        if code == 200:
            reply = _parse_200(body, self._hangups > 0, b"".join(self._raw))
            self._reset()
            return reply
        return self._finish(code=code, text=body)

    def _finish(self, *, code: int, text: str) -> AgiReply:
        reply = AgiReply(
            code=code, text=text, hangup_seen=self._hangups > 0, raw=b"".join(self._raw)
        )
        self._reset()
        return reply

    def _reset(self) -> None:
        self._raw = []
        self._raw_bytes = 0
        self._hangups = 0
        self._usage = None

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete reply."""
        return b"".join(self._raw) + bytes(self._buf)


def quote_arg(value: str, *, always: bool = False) -> str:
    """Quote one AGI argument the way res_agi's ``parse_args`` reads it back.

    Words without whitespace, quotes or backslashes go bare (unless ``always``); others are
    wrapped in double quotes with ``"`` and ``\\`` escaped by a backslash. Newlines cannot be
    sent (they would end the command) and raise ValueError.
    """
    if "\n" in value or "\r" in value or "\x00" in value:
        raise ValueError("AGI arguments cannot contain newlines or NUL")
    needs = value == "" or any(c in value for c in ' \t"\\')
    if not needs and not always:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def build_command(*words: str) -> bytes:
    """Join already-quoted words into one command line (with its ``\\n``)."""
    line = " ".join(words)
    if "\n" in line or "\r" in line:
        raise ValueError("AGI command cannot contain newlines")
    return line.encode("utf-8") + b"\n"
