"""App keys of the citizen-side package."""

from __future__ import annotations

import jinja2
from aiohttp import web

TEMPLATES = web.AppKey("citizen_templates", jinja2.Environment)
