"""FastAGI: wire protocol (pure), per-call channel API, and the asyncio server."""

from __future__ import annotations

from ivr.agi.channel import AgiChannel
from ivr.agi.errors import (
    AgiCommandError,
    AgiConnectionLost,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
)
from ivr.agi.protocol import AgiEnvironment, AgiReply, AgiReplyParser, parse_environment
from ivr.agi.server import AgiHandler, FastAgiServer

__all__ = [
    "AgiChannel",
    "AgiCommandError",
    "AgiConnectionLost",
    "AgiEnvironment",
    "AgiError",
    "AgiHandler",
    "AgiHangup",
    "AgiProtocolError",
    "AgiReply",
    "AgiReplyParser",
    "AgiTimeout",
    "FastAgiServer",
    "parse_environment",
]
