"""AgiChannel: the async command API that IVR call flows use on one FastAGI connection.

Hangup semantics, as Asterisk 22 behaves (agi-hangup-midway):

* The media command during which the caller hangs up answers ``200 result=-1``: we raise
  AgiHangup. Exception: STREAM FILE ``result=-1 endpos=0`` is a missing sound file on a live
  channel (agi-inbound-happy): we log it and return None.
* Asterisk then writes an unsolicited ``HANGUP`` line; it reaches us in front of the next
  command's result. We consume that result, mark the channel dead and raise AgiHangup —
  except for `set_variable`, `verbose` and `hangup`, which cleanup code must be able to do
  after a hangup.
* On a dead channel Asterisk answers media commands with ``511 ...``: AgiHangup. Commands are
  always sent, even when `is_dead`: Asterisk decides what a dead channel still permits
  (SET/GET VARIABLE, GET FULL VARIABLE, VERBOSE, EXEC).
* ``510`` (unknown command) and ``520`` (bad usage) raise AgiCommandError.
* No reply within the command's timeout raises AgiTimeout, after which the connection is
  unusable (a late reply would be taken for the answer to the next command).
"""

from __future__ import annotations

import asyncio
import logging
import math

from ivr.agi.errors import (
    AgiCommandError,
    AgiConnectionLost,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
)
from ivr.agi.protocol import AgiEnvironment, AgiReply, AgiReplyParser, build_command, quote_arg

log = logging.getLogger(__name__)

DEFAULT_COMMAND_TIMEOUT = 30.0
# Playing a prompt takes as long as the prompt: an announcement may run for minutes.
MEDIA_TIMEOUT = 600.0

# Commands whose HANGUP notice does not raise (they must work in cleanup code).
_HANGUP_TOLERANT = ("SET VARIABLE", "VERBOSE", "HANGUP")
# Every DTMF key: a prompt that takes input is interrupted by any of them (barge-in).
DTMF_KEYS = "0123456789*#"
# After the last digit a number may allow, how long to wait for the caller's closing "#".
TRAILING_HASH_MS = 1500


class AgiChannel:
    """One call's FastAGI connection: send a command, await its typed reply."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: AgiEnvironment,
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        initial_data: bytes = b"",
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.env = env
        self.command_timeout = command_timeout
        self._parser = AgiReplyParser()
        self._pending: list[AgiReply] = []
        if initial_data:
            self._pending.extend(self._parser.feed(initial_data))
        self._lock = asyncio.Lock()
        self._dead = False
        self._broken = False
        # Keys of the input being collected now (see collect_digits): still readable after
        # the caller hung up in the middle of it.
        self.keyed = ""

    @property
    def _playing(self) -> float:
        """Reply timeout of a command that plays sound: as long as the sound, so generous."""
        return max(self.command_timeout, MEDIA_TIMEOUT)

    @property
    def is_dead(self) -> bool:
        """True once Asterisk told us the channel hung up."""
        return self._dead

    @property
    def uniqueid(self) -> str:
        """The channel's uniqueid (safe to log)."""
        return self.env.uniqueid

    # ---- low level -------------------------------------------------------------------------

    async def send_raw(self, line: str, *, reply_timeout: float | None = None) -> AgiReply:
        """Send one command line verbatim (no ``\\n``) and return its reply, no interpretation.

        ``reply_timeout`` defaults to ``command_timeout``; ``math.inf`` waits forever. Raises
        AgiTimeout, AgiConnectionLost or AgiProtocolError; never AgiHangup for a result
        value. Marks the channel dead on a ``HANGUP`` line or a 511.
        """
        data = build_command(line)
        async with self._lock:
            if self._broken:
                raise AgiConnectionLost("connection unusable after an earlier failure")
            try:
                self._writer.write(data)
                await self._writer.drain()
            except (OSError, RuntimeError) as exc:
                self._broken = True
                raise AgiConnectionLost("cannot write to Asterisk") from exc
            t = self.command_timeout if reply_timeout is None else reply_timeout
            try:
                reply = await asyncio.wait_for(self._next_reply(), None if math.isinf(t) else t)
            except TimeoutError as exc:
                self._broken = True
                raise AgiTimeout(f"no reply within {t:.1f}s") from exc
            except (AgiProtocolError, AgiConnectionLost):
                self._broken = True
                raise
            except OSError as exc:
                self._broken = True
                raise AgiConnectionLost("connection lost") from exc
        if reply.hangup_seen or reply.code == 511:
            self._dead = True
        return reply

    async def _next_reply(self) -> AgiReply:
        while not self._pending:
            chunk = await self._reader.read(65536)
            if not chunk:
                raise AgiConnectionLost("Asterisk closed the connection")
            self._pending.extend(self._parser.feed(chunk))
        return self._pending.pop(0)

    async def command(
        self, verb: str, *args: str, reply_timeout: float | None = None, media: bool = False
    ) -> AgiReply:
        """Send ``verb`` with already-quoted ``args``; apply hangup and error semantics.

        ``media``: a ``result=-1`` means the caller hung up (raise AgiHangup).
        """
        line = " ".join((verb, *args))
        reply = await self.send_raw(line, reply_timeout=reply_timeout)
        if reply.code == 511:
            raise AgiHangup("command not permitted on a dead channel")
        if reply.code in (510, 520):
            raise AgiCommandError(reply.code, reply.text, line)
        if reply.code != 200:
            raise AgiProtocolError(f"unexpected reply code {reply.code}")
        if reply.hangup_seen and verb not in _HANGUP_TOLERANT:
            raise AgiHangup("caller hung up")
        if media and reply.result == "-1":
            self._dead = True
            raise AgiHangup("caller hung up")
        return reply

    # ---- commands used by call flows -------------------------------------------------------

    async def answer(self) -> None:
        """Answer the channel (ANSWER)."""
        await self.command("ANSWER", media=True)

    async def verbose(self, msg: str, level: int = 1) -> None:
        """Write to the Asterisk verbose log (no personal data, please)."""
        await self.command("VERBOSE", quote_arg(msg, always=True), str(int(level)))

    async def channel_status(self) -> int:
        """CHANNEL STATUS: 6 = up (Asterisk channel state)."""
        reply = await self.command("CHANNEL STATUS")
        return _int(reply)

    async def get_variable(self, name: str) -> str | None:
        """Value of a channel variable or function (``CHANNEL(language)``); None when unset."""
        reply = await self.command("GET VARIABLE", quote_arg(name))
        return (reply.data or "") if reply.result == "1" else None

    async def get_full_variable(self, expr: str) -> str | None:
        """Evaluate an expression such as ``${CALLERID(num)}-${UNIQUEID}``."""
        reply = await self.command("GET FULL VARIABLE", quote_arg(expr))
        return (reply.data or "") if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable; works after a hangup too (Asterisk answers it)."""
        await self.command("SET VARIABLE", quote_arg(name), quote_arg(str(value)))

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play a prompt; return the escape digit pressed, or None.

        A missing file (``result=-1 endpos=0``) is logged and returns None.
        """
        reply = await self.command(
            "STREAM FILE",
            quote_arg(name),
            quote_arg(escape_digits, always=True),
            reply_timeout=self._playing,
        )
        res = _int(reply)
        if res == -1:
            if reply.endpos == 0:
                log.warning("AGI prompt file missing file=%s uniqueid=%s", name, self.uniqueid)
                return None
            self._dead = True
            raise AgiHangup("caller hung up during prompt")
        return _digit(res)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str | None:
        """Play ``prompt`` and collect up to ``max_digits`` keys ending with ``#``.

        Returns the digits (without ``#``), the partial digits if the caller stopped typing,
        or None when nothing was typed before the timeout.
        """
        timeout = self._playing + max(timeout_ms, 0) / 1000 * (max(max_digits, 1) + 1)
        reply = await self.command(
            "GET DATA",
            quote_arg(prompt),
            str(int(timeout_ms)),
            str(int(max_digits)),
            reply_timeout=timeout,
            media=True,
        )
        digits = reply.result or ""
        if reply.data == "timeout" and not digits:
            return None
        return digits

    async def collect_digits(
        self, prompt: str, timeout_ms: int, max_digits: int, *, first_key: str | None = None
    ) -> str | None:
        """Play ``prompt`` (any key interrupts it) and collect up to ``max_digits`` keys ending
        with ``#``, one WAIT FOR DIGIT per key, so that what the caller keyed survives a hangup.

        GET DATA loses every key when the caller hangs up in the middle (``200 result=-1``,
        2026-12-01/agi-barge-in-and-hangup-digits). Here each key is kept in ``self.keyed`` as
        it arrives; a hangup raises AgiHangup with ``keyed`` still holding them. ``timeout_ms``
        is, as for GET DATA, the wait for the first key after the prompt and between keys.
        ``first_key``: a key already pressed (during an earlier prompt): no prompt is played.
        Returns the keys (without ``#``), or None when nothing was keyed before the timeout.

        res_agi reads and drops the channel's frames while it waits for our next command, so a
        key pressed in the gap between two WAIT FOR DIGIT is lost: nothing slow may run
        between them (no database, no logging per key).
        """
        self.keyed = ""
        limit = max(int(max_digits), 1)
        key = first_key if first_key else await self.stream_file(prompt, DTMF_KEYS)
        if key is None:
            key = await self.wait_for_digit(timeout_ms)
        while key is not None and key != "#":
            self.keyed += key
            if len(self.keyed) >= limit:
                if limit > 1:
                    # A number "followed by #" that already has all its digits: take the
                    # closing # now, or it would cut the next prompt short.
                    await self.wait_for_digit(TRAILING_HASH_MS)
                break
            key = await self.wait_for_digit(timeout_ms)
        if not self.keyed and key is None:
            return None
        return self.keyed

    async def say_digits(self, digits: str, escape: str = "") -> str | None:
        """Say each digit; return the escape digit pressed, or None."""
        reply = await self.command(
            "SAY DIGITS",
            quote_arg(digits),
            quote_arg(escape, always=True),
            reply_timeout=self._playing,
            media=True,
        )
        return _digit(_int(reply))

    async def say_number(self, n: int, escape: str = "") -> str | None:
        """Say a number; return the escape digit pressed, or None."""
        reply = await self.command(
            "SAY NUMBER",
            str(int(n)),
            quote_arg(escape, always=True),
            reply_timeout=self._playing,
            media=True,
        )
        return _digit(_int(reply))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key; None on timeout. ``timeout_ms=-1`` waits forever."""
        t = math.inf if timeout_ms < 0 else self.command_timeout + timeout_ms / 1000
        reply = await self.command(
            "WAIT FOR DIGIT", str(int(timeout_ms)), reply_timeout=t, media=True
        )
        return _digit(_int(reply))

    async def exec_app(self, app: str, args: str = "") -> int:
        """Run a dialplan application; return its result (-2 = no such application).

        A result of -1 means the application hung up the channel: AgiHangup.
        """
        words = [quote_arg(app)]
        if args:
            words.append(quote_arg(args))
        reply = await self.command("EXEC", *words, reply_timeout=self._playing, media=True)
        res = _int(reply)
        if res == -2:
            log.warning("AGI EXEC of unknown application app=%s uniqueid=%s", app, self.uniqueid)
        return res

    async def hangup(self) -> None:
        """Hang up the channel (HANGUP). The channel is dead afterwards."""
        if self._dead:
            return
        await self.command("HANGUP")
        self._dead = True


def _int(reply: AgiReply) -> int:
    value = reply.result_int
    if value is None:
        raise AgiProtocolError("non-numeric result")
    return value


def _digit(res: int) -> str | None:
    if res <= 0:
        return None
    return chr(res)
