"""Asterisk Manager Interface (AMI) wire format: a pure parser and an action encoder.

No I/O here: bytes go in, messages come out, and the unparsed rest stays in the parser.

Wire facts (checked against the Asterisk 22 transcripts in ``../shared/asterisk``):

- On connect Asterisk sends one banner line, ``Asterisk Call Manager/11.0.0\\r\\n`` (the
  number is the AMI protocol version, not the Asterisk version). It is NOT followed by an
  empty line, so it is the only line that is not part of a ``key: value`` block.
- Every message is a block of ``Key: Value\\r\\n`` lines ended by an empty line
  (``\\r\\n\\r\\n``). TCP chunks split messages anywhere, even in the middle of a line.
- Keys may repeat (``Output`` in a Command response, ``Variable``/``ChanVariable``); all
  occurrences are kept in order. Values may contain ``': '`` (``Message: Invalid/unknown
  command: FooBar...``, ``RequestType: Action: FooBar``), so only the first ``:`` splits.
  Values may be empty (``PausedReason: ``, ``BridgeId: `` as the last line of a block).
- A message is a ``Response`` when its first key is ``Response`` and an ``Event`` when its
  first key is ``Event`` (``OriginateResponse`` is an *event* that carries a ``Response``
  key, so the first key decides).
- Text is UTF-8 (caller names); undecodable bytes are replaced, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

EOL = b"\r\n"
END = b"\r\n\r\n"
_EVENT_KEY = b"Event: "
_ACTION_ID_KEY = b"\r\nactionid:"
BANNER_PREFIX = "Asterisk Call Manager/"

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AmiMessage:
    """One AMI block: ordered ``(key, value)`` pairs, duplicates kept."""

    fields: Fields

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of ``key`` (case-insensitive), or ``default``."""
        lowered = key.lower()
        for k, v in self.fields:
            if k.lower() == lowered:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (case-insensitive), in wire order."""
        lowered = key.lower()
        return [v for k, v in self.fields if k.lower() == lowered]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def keys(self) -> list[str]:
        """Keys in wire order (duplicates repeated)."""
        return [k for k, _ in self.fields]

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` this message answers, if any."""
        return self.get("ActionID")


@dataclass(frozen=True)
class Response(AmiMessage):
    """A reply to an action (``Response: Success|Error|Goodbye``)."""

    @property
    def status(self) -> str:
        """The ``Response`` value, e.g. ``Success`` or ``Error``."""
        return self.fields[0][1]

    @property
    def success(self) -> bool:
        """True for ``Success`` and ``Goodbye``."""
        return self.status in ("Success", "Goodbye")

    @property
    def message(self) -> str:
        """The human ``Message`` text ('' when absent).

        A few Asterisk 22 responses end it with a stray ``\\n`` before the ``\\r\\n``
        (``Park successful``, ``Unable to retrieve endpoint 1999``): the fields keep the exact
        bytes, this text is stripped of it so that comparisons work either way.
        """
        return (self.get("Message") or "").rstrip("\n")


@dataclass(frozen=True)
class Event(AmiMessage):
    """An unsolicited or list event (``Event: Name``)."""

    @property
    def name(self) -> str:
        """The ``Event`` value, e.g. ``QueueCallerJoin``."""
        return self.fields[0][1]


@dataclass(frozen=True)
class Banner:
    """The greeting line sent once per connection."""

    text: str

    @property
    def version(self) -> str:
        """AMI protocol version from the banner (``11.0.0`` on Asterisk 22)."""
        return self.text[len(BANNER_PREFIX) :] if self.text.startswith(BANNER_PREFIX) else ""


@dataclass(frozen=True)
class Unknown(AmiMessage):
    """A block that is neither a Response nor an Event (kept, never dropped silently)."""


Message = Response | Event | Banner | Unknown


def parse_block(block: bytes) -> Response | Event | Unknown | None:
    """Parse one block (without its terminating empty line); None if it holds no lines."""
    pairs: list[tuple[str, str]] = []
    # One loop, no call per line: an answered call is about 4,000 lines of AMI (issue 18).
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            pairs.append(("", line))
        elif value[:1] == " ":
            pairs.append((key, value[1:]))
        else:
            pairs.append((key, value))
    if not pairs:
        return None
    fields = tuple(pairs)
    first = fields[0][0].lower()
    if first == "response":
        return Response(fields)
    if first == "event":
        return Event(fields)
    return Unknown(fields)


class AmiProtocolError(ValueError):
    """The peer sent more than a real Asterisk ever does (an oversize line or message)."""


#: Largest message accepted (a real one is under 4 KiB; a long ``Command`` output stays
#: well below this).
MAX_MESSAGE_BYTES = 1024 * 1024
#: Largest banner line accepted.
MAX_BANNER_BYTES = 1024


def parse_buffer(data: bytes, *, expect_banner: bool) -> tuple[list[Message], bytes, bool]:
    """Parse complete messages from ``data``.

    Returns ``(messages, rest, expect_banner)``: the unparsed tail and whether the banner
    is still awaited (it is consumed once, when its line is complete).
    """
    parser = AmiParser(expect_banner=expect_banner)
    messages = parser.feed(data)
    return messages, parser.pending, parser.expect_banner


class AmiParser:
    """Incremental parser: ``feed(bytes) -> [messages]``, keeping partial data between calls.

    Linear time: the search for the end of a message resumes where the last one stopped
    (minus the three bytes an ``\\r\\n\\r\\n`` split across chunks may have left), so each
    byte is scanned once. A message larger than `MAX_MESSAGE_BYTES` or a banner longer than
    `MAX_BANNER_BYTES` raises AmiProtocolError: drop that peer.
    """

    def __init__(
        self,
        *,
        expect_banner: bool = True,
        skip_events: Callable[[str, bytes], bool] | None = None,
    ) -> None:
        """``skip_events(name, block)`` True: an unsolicited event called ``name`` whose raw
        block (lowercased, starting with ``\r\n``) is ``block`` is dropped unparsed (the
        client's event filter: most of a PBX's events are never used). An event that
        carries an ``ActionID`` (it answers an action) is always parsed."""
        self._skip_events = skip_events
        self.skipped = 0
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already searched for END
        self._expect_banner = expect_banner

    @property
    def expect_banner(self) -> bool:
        """True until the banner line has been consumed."""
        return self._expect_banner

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message completed by them."""
        messages: list[Message] = []
        buf = self._buf
        buf += data
        pos = 0
        if self._expect_banner:
            eol = buf.find(EOL)
            if eol < 0:
                if len(buf) > MAX_BANNER_BYTES:
                    raise AmiProtocolError("AMI banner line too long")
                return messages
            line = bytes(buf[:eol]).decode("utf-8", errors="replace")
            if line.startswith(BANNER_PREFIX):
                messages.append(Banner(line))
                pos = eol + len(EOL)
            self._expect_banner = False
            self._scanned = pos
        while True:
            end = buf.find(END, max(pos, self._scanned - (len(END) - 1)))
            if end < 0:
                self._scanned = len(buf)
                break
            if end - pos > MAX_MESSAGE_BYTES:
                raise AmiProtocolError("AMI message too large")
            if self._skippable(buf, pos, end):
                self.skipped += 1
                pos = end + len(END)
                self._scanned = pos
                continue
            parsed = parse_block(bytes(buf[pos:end]))
            if parsed is not None:
                messages.append(parsed)
            pos = end + len(END)
            self._scanned = pos
        del buf[:pos]
        self._scanned -= pos
        if len(buf) > MAX_MESSAGE_BYTES:
            raise AmiProtocolError("AMI message too large")
        return messages

    def _skippable(self, buf: bytearray, pos: int, end: int) -> bool:
        """The block ``buf[pos:end]`` is an event ``skip_events`` drops, with no ActionID."""
        if self._skip_events is None or not buf.startswith(_EVENT_KEY, pos):
            return False
        eol = buf.find(EOL, pos, end)
        name_end = end if eol < 0 else eol
        name = bytes(buf[pos + len(_EVENT_KEY) : name_end]).decode("utf-8", errors="replace")
        block = EOL + bytes(buf[pos:end]).lower()  # keys are case-insensitive
        return _ACTION_ID_KEY not in block and self._skip_events(name, block)

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet forming a complete message."""
        return bytes(self._buf)


FieldsIn = Mapping[str, object] | Iterable[tuple[str, object]]


def _pairs(fields: FieldsIn) -> list[tuple[str, str]]:
    items = fields.items() if isinstance(fields, Mapping) else fields
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            out.append((key, _text(v)))
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError("AMI keys and values cannot contain CR or LF")
    return text


def encode_fields(fields: FieldsIn) -> bytes:
    """Encode one block: ``Key: Value\\r\\n`` lines plus the empty line.

    Lists/tuples repeat the key; ``None`` values are skipped; booleans become
    ``true``/``false``. CR/LF inside keys or values raise ``ValueError`` (injection).
    """
    lines = [f"{_check(k)}: {_check(v)}\r\n" for k, v in _pairs(fields)]
    return ("".join(lines) + "\r\n").encode("utf-8")


def encode_action(action: str, action_id: str, fields: FieldsIn = ()) -> bytes:
    """Encode ``Action: X\\r\\nActionID: id\\r\\n...\\r\\n\\r\\n``."""
    return encode_fields([("Action", action), ("ActionID", action_id), *_pairs(fields)])
