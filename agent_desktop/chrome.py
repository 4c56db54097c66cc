"""The desktop's page layout lent to pages served by other packages (the recordings): the
same header, navigation by role, the user's name and the logout button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from agent_desktop.auth import current_session
from recordings.web import Layout

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


async def _context(request: web.Request) -> dict[str, Any]:
    session = await current_session(request)
    return {"session": session, "csrf_token": session.csrf_token if session else ""}


def desktop_layout() -> Layout:
    """``base.html`` of the desktop, and the session it needs, for ``recordings.web``."""
    return Layout(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), context=_context)
