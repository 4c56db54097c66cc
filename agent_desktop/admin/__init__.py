"""Administration pages (issue 11): users and access, the audit, the entity directory and
SLA templates, the knowledge base and announcements (afectaciones).

``setup_admin_routes(app)`` adds the routes, this package's templates, the middleware that
holds a user on the password-change page, and the listener that ends a disabled user's live
sockets and queue membership.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from agent_desktop.keys import TEMPLATES

HERE = Path(__file__).resolve().parent


def setup_admin_routes(app: web.Application) -> None:
    """Register the administration pages on the desktop app (before it starts)."""
    from agent_desktop.admin import account, announcements, directory, knowledge, users
    from agent_desktop.admin.live import live_ctx
    from agent_desktop.admin.login import pending_step_middleware

    env = app[TEMPLATES]
    env.loader = jinja2.ChoiceLoader(
        [env.loader, jinja2.FileSystemLoader(HERE / "templates")]  # type: ignore[list-item]
    )
    app.middlewares.append(pending_step_middleware)
    app.cleanup_ctx.append(live_ctx)
    for module in (account, users, directory, knowledge, announcements):
        module.setup(app)
    app.router.add_static("/static/admin", HERE / "static", append_version=True)
