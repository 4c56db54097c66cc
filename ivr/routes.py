"""FastAGI routes: the path in ``AGI(agi://host:port/<route>)`` → the flow that serves it.

``asterisk_conf/extensions.conf`` and this table must name the same routes (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from ivr.agi.server import AgiHandler
from ivr.backend import IvrBackend
from ivr.flows.callbacks import followup, satisfaction
from ivr.flows.inbound import inbound
from ivr.flows.readback import readback

ROUTES: tuple[str, ...] = ("inbound", "readback", "followup", "satisfaction")


def build_routes(backend: IvrBackend) -> Mapping[str, AgiHandler]:
    """Bind every flow to its backend."""
    flows = {
        "inbound": inbound,
        "readback": readback,
        "followup": followup,
        "satisfaction": satisfaction,
    }
    return {route: partial(flows[route], backend=backend) for route in ROUTES}
