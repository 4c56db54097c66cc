"""FastAGI routes: the path in ``AGI(agi://host:port/<route>)`` → the flow that serves it.

``asterisk_conf/extensions.conf`` and this table must name the same routes (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ivr.agi.server import AgiHandler
from ivr.backend import IvrBackend
from ivr.flows.inbound import inbound
from ivr.flows.readback import readback

ROUTES: tuple[str, ...] = ("inbound", "readback")


def build_routes(backend: IvrBackend, **extra: Callable[..., object]) -> Mapping[str, AgiHandler]:
    """Bind every flow to its backend."""
    routes: dict[str, AgiHandler] = {
        "inbound": partial(inbound, backend=backend),
        "readback": partial(readback, backend=backend),
    }
    return routes
