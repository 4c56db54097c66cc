"""Exceptions raised by the FastAGI layer.

`AgiHangup` is the normal end of many calls (the caller hung up); flows may let it propagate and
the server treats it as a clean ending, not as an error.
"""

from __future__ import annotations


class AgiError(Exception):
    """Base class of every FastAGI error."""


class AgiProtocolError(AgiError):
    """The peer sent bytes that are not valid AGI."""


class AgiHangup(AgiError):
    """The channel is gone: the caller hung up (or Asterisk said the channel is dead)."""


class AgiConnectionLost(AgiHangup):
    """Asterisk closed the FastAGI socket while a command was pending."""


class AgiTimeout(AgiError):
    """No reply to a command within its timeout; the connection is no longer usable."""


class AgiCommandError(AgiError):
    """Asterisk rejected a command: 510 (unknown command) or 520 (bad usage)."""

    def __init__(self, code: int, text: str, command: str) -> None:
        # Only the command's keywords go into the message: its arguments may hold personal data.
        verb = " ".join(w for w in command.split()[:3] if w.isalpha() and w.isupper())
        first = text.splitlines()[0] if text else ""
        super().__init__(f"{code} {first} ({verb or 'command'})")
        self.code = code
        self.text = text
        self.command = command
