"""Typed application keys shared by the desktop's modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_desktop.ports import QueueControl
from cac311.config import Settings
from case_core.db.uow import UnitOfWorkFactory

Clock = Callable[[], datetime]

SETTINGS = web.AppKey("desktop_settings", Settings)
UOW = web.AppKey("desktop_uow_factory", UnitOfWorkFactory)
ENGINE = web.AppKey("desktop_engine", AsyncEngine)
QUEUE_CONTROL = web.AppKey("desktop_queue_control", QueueControl)
CLOCK: web.AppKey[Clock] = web.AppKey("desktop_clock")
TEMPLATES = web.AppKey("desktop_templates", jinja2.Environment)
IDLE_TIMEOUT = web.AppKey("desktop_idle_timeout", float)
