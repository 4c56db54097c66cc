"""The AGI side of an Asterisk 22 simulator: one simulated channel running ``AGI(agi://...)``.

`SimulatedAgiCall` connects to a FastAGI server, sends the environment block with the keys and
order of ``agi-inbound-happy``, then answers each command as Asterisk 22.10.1 did in the
transcripts of ../shared/asterisk. It answers instantly (no real audio time passes).

Caller behaviour is a `CallerScript`, a list of actions used in order:

* ``Press("8*123*4567#")`` - keys typed at the next *input* command (GET DATA, WAIT FOR DIGIT).
  GET DATA stops at ``#`` (not returned) or at ``max_digits``; keys without either end in a
  timeout that returns what was typed. WAIT FOR DIGIT takes the first key and leaves the others
  for the next input command (the caller keys them one after the other).
  ``Press("8*12", hangup=True)``: then the caller hangs up (GET DATA loses the keys).
* ``PressDuringPrompt("1", endpos=21600)`` - interrupts the next *interruptible prompt*
  (STREAM FILE / SAY DIGITS / SAY NUMBER with escape digits). A key that is not an escape
  digit does not interrupt (the prompt plays to its end). At an input command it acts as Press.
* ``Timeout()`` - no key at the next input command.
* ``HangUp()`` - the caller hangs up during the next media command of any kind.

An interruptible prompt consumes only a PressDuringPrompt or a HangUp that is next in the
script (a Press waits for the next input command); a prompt without escape digits, ANSWER,
EXEC etc. consume only HangUp. When the script is exhausted, input commands time out.

Hangup, as in agi-hangup-midway: the media command during which the caller hangs up answers
``200 result=-1`` (STREAM FILE adds ``endpos=N``); Asterisk then writes an unsolicited
``HANGUP`` line right away (in the transcript it reached the client together with the next
command's result); afterwards commands that res_agi does not permit on a dead channel get
``511 ...`` while SET/GET VARIABLE, GET FULL VARIABLE, VERBOSE, NOOP, EXEC still run.
The AGI ends when the server closes the socket (Asterisk sends nothing more; in every
transcript the FastAGI side closed first); `agi_status` then mirrors Asterisk's ``AGISTATUS``.

Not in the transcripts, taken from res_agi.c and marked so: GET DATA with some keys and no
``#`` (``200 result=12 (timeout)``), key presses on WAIT FOR DIGIT / SAY * (ASCII code),
STREAM FILE hangup ``endpos``, the HANGUP command (``200 result=1`` then a ``HANGUP`` line),
EXEC on a dead channel (``200 result=-1``), and the usage text of commands whose 520 reply was
not captured (a placeholder line that says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ASTERISK_VERSION = "22.10.1"

MSG_510 = b"510 Invalid or unknown command\n"
MSG_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"
HANGUP_LINE = b"HANGUP\n"
_USAGE_HEAD = b"520-Invalid command syntax.  Proper usage follows:\n"
_USAGE_TAIL = b"520 End of proper usage.\n"

# Usage texts exactly as captured in agi-errors.
USAGE_TEXT: dict[str, str] = {
    "GET DATA": (
        "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
        "Returns the digits received from the channel at the other end.\n"
    ),
    "STREAM FILE": (
        "Send the given file, allowing playback to be interrupted by the given digits, if any. "
        "Returns <literal>0</literal> if playback completes without a digit being pressed, or "
        "the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on "
        "error or if the channel was disconnected. If musiconhold is playing before calling "
        "stream file it will be automatically stopped and will not be restarted after "
        "completion.\n"
        "It sets the following channel variables upon completion:\n"
        "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text "
        "string.\n"
        "    <value>SUCCESS</value>\n"
        "    <value>FAILED</value>\n"
    ),
    "SAY NUMBER": (
        "Say a given number, returning early if any of the given DTMF digits are received on "
        "the channel.  Returns <literal>0</literal> if playback completes without a digit "
        "being pressed, or the ASCII numerical value of the digit if one was pressed or "
        "<literal>-1</literal> on error/hangup.\n"
    ),
    "SET VARIABLE": "Sets a variable to the current channel.\n",
    "GET VARIABLE": (
        "Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. "
        "Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and "
        "returns the variable in parentheses.\n"
        "Example return code: 200 result=1 (testvariable)\n"
    ),
}

# Commands Asterisk 22 knows that this simulator does not implement: answered 510 and
# recorded in `SimulatedAgiCall.unsimulated` so a test can notice.
_KNOWN_UNSIMULATED = (
    "ASYNCAGI BREAK", "DATABASE DEL", "DATABASE DELTREE",
    "DATABASE GET", "DATABASE PUT", "GET OPTION", "GOSUB", "RECEIVE CHAR", "RECEIVE TEXT",
    "RECORD FILE", "SAY ALPHA", "SAY DATE", "SAY DATETIME", "SAY PHONETIC", "SAY TIME",
    "SEND IMAGE", "SEND TEXT", "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT",
    "SET EXTENSION", "SET MUSIC", "SET PRIORITY", "SPEECH", "TDD MODE",
)  # fmt: skip

DEFAULT_APPLICATIONS = frozenset(
    {"playback", "wait", "noop", "set", "saydigits", "saynumber", "background", "verbose"}
)

_thread_ids = itertools.count(140074839385792, 1536)
_channel_seq = itertools.count(0)


# ---- caller script ------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """Keys typed at the next input command (GET DATA, WAIT FOR DIGIT).

    ``hangup=True``: the caller hangs up after the last key, before ``#`` or a timeout. GET
    DATA then answers ``200 result=-1`` and the keys are lost (as captured in
    2026-12-01/agi-barge-in-and-hangup-digits); a WAIT FOR DIGIT loop gets each key, then
    ``200 result=-1``.
    """

    digits: str
    hangup: bool = False


@dataclass(frozen=True)
class PressDuringPrompt:
    """A key that interrupts the next interruptible prompt, at sample ``endpos``."""

    digit: str
    endpos: int | None = None


@dataclass(frozen=True)
class Timeout:
    """No key at the next input command."""


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up during the next media command; ``endpos`` for STREAM FILE."""

    endpos: int | None = None


CallerAction = Press | PressDuringPrompt | Timeout | HangUp


class CallerScript:
    """What the caller does, in order, at each input point (see the module docstring)."""

    def __init__(self, actions: Iterable[CallerAction] = ()) -> None:
        self._actions = list(actions)
        self.used: list[CallerAction] = []

    def peek(self) -> CallerAction | None:
        """The next action, or None when the script is exhausted."""
        return self._actions[0] if self._actions else None

    def take(self) -> CallerAction:
        """Consume the next action (Timeout when exhausted)."""
        action: CallerAction = self._actions.pop(0) if self._actions else Timeout()
        self.used.append(action)
        return action

    def push_front(self, action: CallerAction) -> None:
        """Put an action back at the head (the rest of a multi-key Press)."""
        self._actions.insert(0, action)

    @property
    def remaining(self) -> tuple[CallerAction, ...]:
        """Actions not used yet."""
        return tuple(self._actions)


# ---- argument parsing, as res_agi parse_args ------------------------------------------------


def parse_agi_args(line: str) -> list[str]:
    """Split a command line exactly like res_agi's ``parse_args`` (quotes, backslashes)."""
    argv: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                cur = []
                argv.append("")
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            if cur is not None:
                argv[-1] = "".join(cur)
                cur = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            cur = []
            argv.append("")
            whitespace = False
        assert cur is not None
        cur.append(ch)
        escaped = False
    if cur is not None:
        argv[-1] = "".join(cur)
    return argv


_NUM_RE = re.compile(r"^\s*[-+]?\d+")


def _scan_int(text: str) -> int | None:
    """sscanf("%30d") semantics: leading integer or None."""
    m = _NUM_RE.match(text)
    return int(m.group(0)) if m else None


# ---- the simulated call -------------------------------------------------------------------


@dataclass
class AgiCallResult:
    """How the simulated AGI ended."""

    ended_by: str  # "server" (server closed), "timeout", "connect_failed"
    caller_hung_up: bool
    agi_status: str  # SUCCESS / HANGUP / FAILURE, like ${AGISTATUS}


@dataclass
class _Command:
    names: tuple[str, ...]
    dead_ok: bool


class SimulatedAgiCall:
    """One simulated Asterisk channel that runs ``AGI(agi://host:port/route,args...)``."""

    def __init__(
        self,
        host: str,
        port: int,
        route: str,
        *,
        args: Iterable[str] = (),
        caller: CallerScript | Iterable[CallerAction] = (),
        callerid: str = "61110000",
        calleridname: str = "unknown",
        uniqueid: str | None = None,
        linkedid: str | None = None,
        channel: str | None = None,
        language: str = "es",
        extension: str = "311",
        context: str = "cac311-inbound",
        priority: int = 4,
        request: str | None = None,
        threadid: int | None = None,
        variables: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        missing_files: Iterable[str] = (),
        prompt_samples: Mapping[str, int] | None = None,
        applications: Iterable[str] = DEFAULT_APPLICATIONS,
        channel_state: int = 6,
        call_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.route = route
        self.args = tuple(args)
        self.caller = caller if isinstance(caller, CallerScript) else CallerScript(caller)
        self.uniqueid = (
            uniqueid or f"{random.randint(1_700_000_000, 1_900_000_000)}.{next(_channel_seq)}"
        )
        self.linkedid = linkedid or self.uniqueid
        self.channel = channel or f"Local/{extension}@{context}-{next(_channel_seq):08x};2"
        self.language = language
        self.callerid = callerid
        self.calleridname = calleridname
        self.extension = extension
        self.context = context
        self.variables: dict[str, str] = dict(variables or {})
        self.missing_files = set(missing_files)
        self.prompt_samples = dict(prompt_samples or {})
        self.applications = {a.lower() for a in applications}
        self.channel_state = channel_state
        self.call_timeout = call_timeout
        self._env = self._build_env(
            request=request or f"agi://{host}:{port}/{route}",
            priority=priority,
            threadid=threadid if threadid is not None else next(_thread_ids),
            overrides=env or {},
        )
        # What happened, for assertions.
        self.commands: list[str] = []
        self.replies: list[bytes] = []
        self.exec_calls: list[tuple[str, str]] = []
        self.unsimulated: list[str] = []
        self.wire: list[tuple[str, bytes]] = []
        self.result: AgiCallResult | None = None
        self._dead = False
        self._hung_up = False
        self._writer: asyncio.StreamWriter | None = None

    # -- environment -------------------------------------------------------------------------

    def _build_env(
        self, *, request: str, priority: int, threadid: int, overrides: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        env = [
            ("agi_network", "yes"),
            ("agi_network_script", self.route),
            ("agi_request", request),
            ("agi_channel", self.channel),
            ("agi_language", self.language),
            ("agi_type", self.channel.split("/", 1)[0]),
            ("agi_uniqueid", self.uniqueid),
            ("agi_version", ASTERISK_VERSION),
            ("agi_callerid", self.callerid),
            ("agi_calleridname", self.calleridname),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", self.context),
            ("agi_extension", self.extension),
            ("agi_priority", str(priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(threadid)),
        ]
        env += [(f"agi_arg_{i}", a) for i, a in enumerate(self.args, 1)]
        keys = [k for k, _ in env]
        for k, v in overrides.items():
            if k in keys:
                env[keys.index(k)] = (k, v)
            else:
                env.append((k, v))
        return env

    @property
    def env_bytes(self) -> bytes:
        """The environment block exactly as sent."""
        body = "".join(f"{k}: {v}\n" for k, v in self._env)
        return (body + "\n").encode("utf-8")

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> AgiCallResult:
        """Connect, serve commands until the server closes, and return how the AGI ended."""
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self.result = AgiCallResult("connect_failed", False, "FAILURE")
            return self.result
        self._writer = writer
        ended_by = "server"
        try:
            await self._send(self.env_bytes)
            async with asyncio.timeout(self.call_timeout):
                while True:
                    line = await reader.readline()
                    if not line.endswith(b"\n"):
                        break  # EOF (a partial last line is dropped, as fgets would)
                    await self._handle(line)
        except TimeoutError:
            ended_by = "timeout"
        except (OSError, ValueError):  # reset by the server, or a line over the limit
            ended_by = "server"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self.wire.append(("us", b"<CLOSE>"))
        status = "HANGUP" if self._hung_up else "SUCCESS"
        self.result = AgiCallResult(ended_by, self._hung_up, status)
        return self.result

    @property
    def agi_status(self) -> str | None:
        """``${AGISTATUS}`` after the AGI: SUCCESS, HANGUP or FAILURE (None while running)."""
        return self.result.agi_status if self.result else None

    async def _send(self, data: bytes) -> None:
        assert self._writer is not None
        self.wire.append(("asterisk", data))
        self._writer.write(data)
        await self._writer.drain()

    async def _handle(self, raw: bytes) -> None:
        self.wire.append(("us", raw))
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        self.commands.append(line)
        reply, then_hangup = self._answer(line)
        self.replies.append(reply)
        await self._send(reply)
        if then_hangup:
            self._dead = True
            with contextlib.suppress(ConnectionError, OSError):
                await self._send(HANGUP_LINE)

    # -- command table -----------------------------------------------------------------------

    def _answer(self, line: str) -> tuple[bytes, bool]:
        """The reply bytes for one command, and whether the caller hangs up now."""
        argv = parse_agi_args(line)
        words = [a.upper() for a in argv]
        name = _match(words)
        if name is None:
            for known in _KNOWN_UNSIMULATED:
                kw = known.split()
                if words[: len(kw)] == kw:
                    self.unsimulated.append(line)
                    break
            return MSG_510, False
        if self._dead and name not in _DEAD_OK:
            return MSG_511, False
        handler: Callable[[list[str]], tuple[bytes, bool]]
        handler = getattr(self, "_cmd_" + name.lower().replace(" ", "_"))
        return handler(argv)

    def _usage(self, name: str) -> tuple[bytes, bool]:
        text = USAGE_TEXT.get(name)
        if text is None:
            text = f"(simulator: usage text of {name} was not captured from Asterisk)\n"
        return _USAGE_HEAD + text.encode() + _USAGE_TAIL, False

    def _take_hangup(self) -> HangUp | None:
        action = self.caller.peek()
        if isinstance(action, HangUp):
            self.caller.take()
            self._hung_up = True
            return action
        return None

    def _take_prompt_key(self, escape: str) -> tuple[str | None, int | None]:
        """For an interruptible prompt: the key that interrupts it (and its endpos)."""
        if not escape:
            return None, None
        action = self.caller.peek()
        if isinstance(action, PressDuringPrompt):
            self.caller.take()
            key = action.digit[:1]
            if key and key in escape:
                return key, action.endpos
        return None, None

    def _samples(self, name: str) -> int:
        return self.prompt_samples.get(name, 8000)

    def _lookup(self, name: str) -> str | None:
        if name in self.variables:
            return self.variables[name]
        upper = name.upper()
        builtins = {
            "UNIQUEID": self.uniqueid,
            "CHANNEL": self.channel,
            "EXTEN": self.extension,
            "CONTEXT": self.context,
            "CALLERID(NUM)": self.callerid,
            "CALLERID(NAME)": self.calleridname,
            "CHANNEL(LANGUAGE)": self.language,
            "CHANNEL(LINKEDID)": self.linkedid,
            "CHANNEL(UNIQUEID)": self.uniqueid,
            "CHANNEL(NAME)": self.channel,
        }
        return builtins.get(upper)

    def _substitute(self, expr: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(expr):
            if expr.startswith("${", i):
                depth, j = 1, i + 2
                while j < len(expr) and depth:
                    if expr.startswith("${", j):
                        depth += 1
                        j += 2
                        continue
                    if expr[j] == "}":
                        depth -= 1
                    j += 1
                inner = self._substitute(expr[i + 2 : j - 1])
                out.append(self._lookup(inner) or "")
                i = j
            else:
                out.append(expr[i])
                i += 1
        return "".join(out)

    # Each handler takes argv (as parse_args made it) and returns (reply, caller_hangs_up_now).

    def _cmd_answer(self, argv: list[str]) -> tuple[bytes, bool]:
        return b"200 result=0\n", False

    def _cmd_noop(self, argv: list[str]) -> tuple[bytes, bool]:
        return b"200 result=0\n", False

    def _cmd_verbose(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 2:
            return self._usage("VERBOSE")
        return b"200 result=1\n", False

    def _cmd_channel_status(self, argv: list[str]) -> tuple[bytes, bool]:
        return f"200 result={self.channel_state}\n".encode(), False

    def _cmd_get_variable(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) != 3:
            return self._usage("GET VARIABLE")
        value = self._lookup(argv[2])
        if value is None:
            return b"200 result=0\n", False
        return f"200 result=1 ({value})\n".encode(), False

    def _cmd_get_full_variable(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 4 or len(argv) > 5:
            return self._usage("GET FULL VARIABLE")
        return f"200 result=1 ({self._substitute(argv[3])})\n".encode(), False

    def _cmd_set_variable(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) != 4:
            return self._usage("SET VARIABLE")
        name, value = argv[2], argv[3]
        if name.upper() == "CHANNEL(LANGUAGE)":
            self.language = value
        else:
            self.variables[name] = value
        return b"200 result=1\n", False

    def _cmd_stream_file(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 4 or len(argv) > 5:
            return self._usage("STREAM FILE")
        name, escape = argv[2], argv[3]
        if name in self.missing_files:
            return b"200 result=-1 endpos=0\n", False
        length = self._samples(name)
        hang = self._take_hangup()
        if hang is not None:
            at = hang.endpos if hang.endpos is not None else max(length // 2, 1)
            return f"200 result=-1 endpos={at}\n".encode(), True
        key, endpos = self._take_prompt_key(escape)
        if key is not None:
            pos = endpos if endpos is not None else max(length // 2, 1)
            return f"200 result={ord(key)} endpos={pos}\n".encode(), False
        return f"200 result=0 endpos={length}\n".encode(), False

    def _cmd_control_stream_file(self, argv: list[str]) -> tuple[bytes, bool]:
        # CONTROL STREAM FILE file escape [skipms [ffchar [rewchar [pausechar [offset]]]]]:
        # 2026-12-01/agi-barge-in-and-hangup-digits: an escape key ends it with its ASCII code
        # and endpos (the fast-forward key does not end it: not simulated, no audio here).
        if len(argv) < 5:
            return self._usage("CONTROL STREAM FILE")
        return self._cmd_stream_file(["STREAM", "FILE", argv[3], argv[4]])

    def _say(self, argv: list[str]) -> tuple[bytes, bool]:
        if self._take_hangup() is not None:
            return b"200 result=-1\n", True
        key, _ = self._take_prompt_key(argv[3] if len(argv) > 3 else "")
        return f"200 result={ord(key) if key else 0}\n".encode(), False

    def _cmd_say_digits(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) != 4 or _scan_int(argv[2]) is None:
            return self._usage("SAY DIGITS")
        return self._say(argv)

    def _cmd_say_number(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 4 or len(argv) > 5 or _scan_int(argv[2]) is None:
            return self._usage("SAY NUMBER")
        return self._say(argv)

    def _cmd_get_data(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 3:
            return self._usage("GET DATA")
        max_digits = (_scan_int(argv[4]) or 0) if len(argv) >= 5 else 1024
        if max_digits <= 0:
            max_digits = 1024
        if self._take_hangup() is not None:
            return b"200 result=-1\n", True
        action = self.caller.take()
        keys = ""
        if isinstance(action, Press):
            keys = action.digits
            if action.hangup and "#" not in keys and len(keys) < max_digits:
                self._hung_up = True
                return b"200 result=-1\n", True  # the keys typed so far are lost
        elif isinstance(action, PressDuringPrompt):
            keys = action.digit
        collected = ""
        for ch in keys:
            if ch == "#":
                return f"200 result={collected}\n".encode(), False
            collected += ch
            if len(collected) >= max_digits:
                return f"200 result={collected}\n".encode(), False
        return f"200 result={collected} (timeout)\n".encode(), False

    def _cmd_wait_for_digit(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) != 4 or _scan_int(argv[3]) is None:
            return self._usage("WAIT FOR DIGIT")
        if self._take_hangup() is not None:
            return b"200 result=-1\n", True
        action = self.caller.take()
        keys = ""
        if isinstance(action, Press):
            keys = action.digits
            # A caller typing several keys: each WAIT FOR DIGIT gets the next one.
            if len(keys) > 1:
                self.caller.push_front(Press(keys[1:], hangup=action.hangup))
            elif action.hangup:
                self.caller.push_front(HangUp())
            if not keys and action.hangup:
                self._hung_up = True
                return b"200 result=-1\n", True
        elif isinstance(action, PressDuringPrompt):
            keys = action.digit
        return f"200 result={ord(keys[0]) if keys else 0}\n".encode(), False

    def _cmd_exec(self, argv: list[str]) -> tuple[bytes, bool]:
        if len(argv) < 2:
            return self._usage("EXEC")
        app = argv[2] if len(argv) > 2 else ""
        self.exec_calls.append((argv[1], app))
        if argv[1].lower() not in self.applications:
            return b"200 result=-2\n", False
        if self._dead:
            return b"200 result=-1\n", False
        if self._take_hangup() is not None:
            return b"200 result=-1\n", True
        if argv[1].lower() == "background" and isinstance(self.caller.peek(), PressDuringPrompt):
            # 2026-12-01/agi-barge-in-and-hangup-digits: any key stops Background with its
            # ASCII code (``200 result=52``) and, under AGI, the dialplan does not jump.
            action = self.caller.take()
            assert isinstance(action, PressDuringPrompt)
            return f"200 result={ord(action.digit[:1])}\n".encode(), False
        return b"200 result=0\n", False

    def _cmd_hangup(self, argv: list[str]) -> tuple[bytes, bool]:
        return b"200 result=1\n", True


_COMMANDS = (
    "ANSWER", "CHANNEL STATUS", "CONTROL STREAM FILE", "EXEC", "GET DATA", "GET FULL VARIABLE",
    "GET VARIABLE", "HANGUP", "NOOP", "SAY DIGITS", "SAY NUMBER", "SET VARIABLE", "STREAM FILE",
    "VERBOSE", "WAIT FOR DIGIT",
)  # fmt: skip
# Commands res_agi permits on a dead channel (the "dead" column of its command table).
_DEAD_OK = frozenset(
    {"EXEC", "GET FULL VARIABLE", "GET VARIABLE", "NOOP", "SET VARIABLE", "VERBOSE"}
)


def _match(words: list[str]) -> str | None:
    """res_agi's find_command(argv, 0): every word of the command, extra words allowed."""
    for name in _COMMANDS:
        kw = name.split()
        if words[: len(kw)] == kw:
            return name
    return None


# ---- transcript replay ---------------------------------------------------------------------


@dataclass
class AgiTranscript:
    """An agi-*.jsonl transcript split into the environment block and command exchanges."""

    env: bytes
    exchanges: list[tuple[bytes, bytes]] = field(default_factory=list)


def load_agi_transcript(path: str | Path) -> AgiTranscript:
    """Read an agi-*.jsonl file: env bytes, then (command bytes, reply bytes) pairs."""
    chunks = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    env = b""
    exchanges: list[tuple[bytes, bytes]] = []
    in_env = True
    for c in chunks:
        data = c["data"].encode("utf-8")
        if c["dir"] == "asterisk":
            if in_env:
                env += data
                if data == b"\n":
                    in_env = False
            else:
                cmd, reply = exchanges[-1]
                exchanges[-1] = (cmd, reply + data)
        elif data not in (b"<CLOSE>", b"<EOF>") and not data.startswith(b"<TIMEOUT"):
            exchanges.append((data, b""))
    return AgiTranscript(env=env, exchanges=exchanges)


def load_agi_sessions(path: str | Path) -> list[AgiTranscript]:
    """Every FastAGI session of a transcript that holds several (split at ``<CLOSE>``)."""
    sessions: list[AgiTranscript] = []
    current: list[str] = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        current.append(line)
        if json.loads(line)["data"] in ("<CLOSE>", "<EOF>"):
            sessions.append(_transcript_of(current))
            current = []
    if current:
        sessions.append(_transcript_of(current))
    return sessions


def _transcript_of(lines: list[str]) -> AgiTranscript:
    env = b""
    exchanges: list[tuple[bytes, bytes]] = []
    in_env = True
    for line in lines:
        c = json.loads(line)
        data = c["data"].encode("utf-8")
        if c["dir"] == "asterisk":
            if in_env:
                env += data
                if data == b"\n":
                    in_env = False
            else:
                cmd, reply = exchanges[-1]
                exchanges[-1] = (cmd, reply + data)
        elif data not in (b"<CLOSE>", b"<EOF>") and not data.startswith(b"<TIMEOUT"):
            exchanges.append((data, b""))
    return AgiTranscript(env=env, exchanges=exchanges)


async def replay_transcript(
    path: str | Path, host: str, port: int, *, reply_timeout: float = 10.0
) -> list[tuple[bytes, bytes]]:
    """Play Asterisk's side of a transcript verbatim against a FastAGI server.

    Sends the recorded environment block, then answers the N-th command received with the
    N-th recorded reply (whatever the command was). Returns the (expected, received) command
    pairs, so a test can assert the server sent the same bytes as the transcript's client.
    """
    transcript = load_agi_transcript(path)
    reader, writer = await asyncio.open_connection(host, port)
    pairs: list[tuple[bytes, bytes]] = []
    try:
        writer.write(transcript.env)
        await writer.drain()
        async with asyncio.timeout(reply_timeout):
            for expected, reply in transcript.exchanges:
                line = await reader.readline()
                if not line:
                    break
                pairs.append((expected, line))
                writer.write(reply)
                await writer.drain()
            # The server must close the socket after the last command.
            extra = await reader.read()
            if extra:
                pairs.append((b"", extra))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return pairs
