#!/usr/bin/env python3
"""The inbound IVR flow as a classic process-per-call AGI script (pyst2), for comparison only.

Asterisk's classic ``AGI(script)`` forks one process per call and speaks AGI over its stdin /
stdout. This script is a synchronous line-for-line port of ``ivr.flows.inbound`` (same prompts,
same backend calls, same channel variables), so that ``bench/ivr_capacity.py`` can compare it
with the FastAGI server on the same caller scripts. Usage (as Asterisk would run it)::

    classic_agi_script.py fake
    classic_agi_script.py db <database URL> <clock, ISO 8601>

With ``db`` each process imports SQLAlchemy, opens its own connection and closes it at the end:
that is the price of a classic script that talks to the database. pyst2 is synchronous, so the
(async) backend runs on a private event loop. pyst2 quirks worth knowing: it writes a trace of
every command to stderr (sent to /dev/null here), quotes numbers (``SAY NUMBER "5" ""``) and
adds a sample offset to STREAM FILE (``STREAM FILE x "" 0``); Asterisk accepts both.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from asterisk.agi import AGI  # noqa: E402  (pyst2)

from case_core.domain.case import CASE_NUMBER_RE  # noqa: E402
from case_core.domain.cedula import parse_dtmf_cedula  # noqa: E402
from case_core.domain.errors import InvalidCedula  # noqa: E402
from ivr.prompts.catalogue import (  # noqa: E402
    CASE_STATUS_PROMPTS,
    CEDULA_LETTERS_KEY,
    MENU_OPTIONS,
    entity_prompt_name,
    file_for,
)

MAX_TRIES = 3
CASE_INTENTS = ("queja", "denuncia", "sugerencia", "solicitud")


class ToAgent(Exception):
    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class Unavailable(Exception):
    """The backend failed (DatabaseBackend's BackendUnavailable, or anything else)."""


class SyncBackend:
    """Runs an async IvrBackend on a private loop (pyst2 is synchronous)."""

    def __init__(self, kind: str, argv: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine: Any = None
        if kind == "fake":
            from _ivr_fake import FakeBackend

            self.backend: Any = FakeBackend()
        else:
            from datetime import UTC  # noqa: F401
            from zoneinfo import ZoneInfo

            from case_core.db.engine import make_engine, make_sessionmaker
            from case_core.db.uow import UnitOfWorkFactory
            from ivr.backend import DatabaseBackend

            url, now = argv[0], datetime.fromisoformat(argv[1])
            self.engine = make_engine(url, pool_size=1)
            self.backend = DatabaseBackend(
                UnitOfWorkFactory(make_sessionmaker(self.engine)),
                tz=ZoneInfo("America/Panama"),
                clock=lambda: now,
            )

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.backend, name)

        def call(*args: Any, **kw: Any) -> Any:
            try:
                return self.loop.run_until_complete(method(*args, **kw))
            except Exception as exc:
                raise Unavailable(name) from exc

        return call

    def close(self) -> None:
        if self.engine is not None:
            self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()


class Call:
    """The per-call state of ivr.flows.context.CallContext, synchronously."""

    def __init__(self, agi: AGI, backend: SyncBackend) -> None:
        self.agi = agi
        self.backend = backend
        self.session_id: int | None = None
        self.db_up = True

    def play(self, prompt_id: str) -> None:
        self.agi.stream_file(file_for(prompt_id))

    def ask(self, prompt_id: str, timeout_ms: int, max_digits: int) -> str:
        return self.agi.get_data(file_for(prompt_id), timeout_ms, max_digits) or ""

    def set_var(self, name: str, value: str) -> None:
        self.agi.set_variable(name, value)

    def step(
        self, step: str, *, digits: str | None = None, result: str | None = None, **fields: Any
    ) -> None:
        if self.session_id is None or not self.db_up:
            return
        try:
            self.backend.record_step(self.session_id, step, digits=digits, result=result, **fields)
        except Unavailable:
            self.db_up = False


def inbound(c: Call) -> None:
    env = c.agi.env
    linkedid = c.agi.get_variable("CHANNEL(linkedid)")
    try:
        c.session_id = c.backend.start_session(
            route="inbound",
            uniqueid=env["agi_uniqueid"],
            linkedid=linkedid or None,
            caller_number=env.get("agi_callerid") or None,
        )
    except Unavailable:
        c.db_up = False
    if c.session_id is not None:
        c.set_var("CAC311_IVR_SESSION", str(c.session_id))
    outcome = "cola"
    try:
        if c.agi.get_variable("CAC311_GREETED") != "1":
            c.play("bienvenida")
        announcements(c)
        outcome = main_menu(c)
    except ToAgent as reason:
        outcome = reason.outcome
    if outcome == "fin":
        c.play("despedida")
        c.set_var("CAC311_NEXT", "hangup")
    else:
        c.play("transferencia_agente")
        c.set_var("CAC311_NEXT", "queue")
    c.set_var("CAC311_IVR_OUTCOME", outcome)
    c.step("salida", result=outcome, outcome=outcome)
    if c.session_id is not None:
        try:
            c.backend.end_session(c.session_id, outcome)
        except Unavailable:
            pass


def announcements(c: Call) -> None:
    if not c.db_up:
        return
    try:
        files = [a.prompt_file for a in c.backend.announcements() if a.prompt_file]
    except Unavailable:
        c.db_up = False
        return
    if files:
        c.play("anuncios_intro")
        for f in files:
            c.agi.stream_file(f)
        c.step("anuncios", result=str(len(files)))


def choose(c: Call, prompt_id: str, valid: str, step: str) -> str:
    for attempt in range(1, MAX_TRIES + 1):
        key = c.ask(prompt_id, 6000, 1)
        if key and key in valid:
            c.step(step, digits=key, result="ok")
            return key
        c.step(step, digits=key or None, result="sin_respuesta" if not key else "invalida")
        if attempt < MAX_TRIES:
            c.play("sin_respuesta" if not key else "opcion_invalida")
    raise ToAgent("agente_por_reintentos")


def main_menu(c: Call) -> str:
    intent = MENU_OPTIONS[choose(c, "menu_principal", "".join(MENU_OPTIONS), "menu")]
    c.set_var("CAC311_INTENT", intent)
    c.step("intencion", result=intent, intent=intent)
    if intent in CASE_INTENTS:
        identify(c, intent)
        return "cola"
    if intent == "estado":
        return case_status(c)
    return "cola"


def identify(c: Call, intent: str) -> None:
    if intent == "denuncia" and choose(c, "denuncia_anonima", "12", "anonimo") == "1":
        c.set_var("CAC311_ANONYMOUS", "1")
        c.step("anonimo", result="anonima", anonymous=True)
        return
    if caller_id_match(c):
        return
    cedula(c)


def caller_id_match(c: Call) -> bool:
    number = c.agi.env.get("agi_callerid", "")
    if not c.db_up or not number:
        return False
    try:
        matches = c.backend.citizens_by_caller_id(number)
    except Unavailable:
        c.db_up = False
        return False
    if len(matches) != 1 or not matches[0].cedula:
        return False
    if choose(c, "callerid_coincide", "12", "callerid") != "1":
        return False
    identified(c, matches[0].cedula, matches[0].citizen_id, "callerid")
    return True


def identified(c: Call, cedula_text: str, citizen_id: int | None, how: str) -> None:
    c.set_var("CAC311_CEDULA", cedula_text)
    if citizen_id is not None:
        c.set_var("CAC311_CITIZEN_ID", str(citizen_id))
    c.step("identificado", result=how, cedula=cedula_text, citizen_id=citizen_id)


def cedula(c: Call) -> None:
    for attempt in range(1, MAX_TRIES + 1):
        keys = c.ask("cedula_solicitud", 8000, 20)
        if keys == CEDULA_LETTERS_KEY:
            c.step("cedula", digits=keys, result="con_letras")
            raise ToAgent("cedula_con_letras")
        if not keys:
            c.step("cedula", result="sin_respuesta")
            if attempt < MAX_TRIES:
                c.play("sin_respuesta")
            continue
        try:
            value = str(parse_dtmf_cedula(keys))
        except InvalidCedula:
            c.step("cedula", result="invalida")
            if attempt < MAX_TRIES:
                c.play("cedula_invalida")
                c.play("intente_nuevamente")
            continue
        citizen_id = None
        if c.db_up:
            try:
                match = c.backend.citizen_by_cedula(value)
                citizen_id = match.citizen_id if match else None
            except Unavailable:
                c.db_up = False
        identified(c, value, citizen_id, "cedula")
        return
    raise ToAgent("cedula_no_valida")


def case_status(c: Call) -> str:
    while True:
        number = ask_case_number(c)
        secret = c.ask("caso_codigo", 8000, 6) or ""
        if not c.db_up:
            c.play("disculpa_sistema")
            raise ToAgent("sin_sistema")
        try:
            info = c.backend.case_status(number, secret, c.agi.env.get("agi_callerid") or None)
        except Unavailable:
            c.db_up = False
            c.play("disculpa_sistema")
            raise ToAgent("sin_sistema") from None
        if info is None:
            c.step("estado", result="no_coincide")
            c.play("caso_no_coincide")
        else:
            c.set_var("CAC311_CASE_NUMBER", number)
            c.step("estado", digits=number, result=info.status, case_number=number)
            say_status(c, info)
        key = c.ask("consulta_otra", 6000, 1)
        c.step("otra_consulta", digits=key or None, result=key or "sin_respuesta")
        if key == "1":
            continue
        return "cola" if key else "fin"


def ask_case_number(c: Call) -> str:
    for attempt in range(1, MAX_TRIES + 1):
        keys = c.ask("caso_solicitud", 8000, 10)
        if keys and CASE_NUMBER_RE.match(keys):
            return keys
        c.step("numero_caso", digits=keys or None, result="invalida" if keys else "sin_respuesta")
        if attempt < MAX_TRIES:
            c.play("caso_no_encontrado" if keys else "sin_respuesta")
            c.play("intente_nuevamente")
    raise ToAgent("numero_caso_no_valido")


def say_status(c: Call, info: Any) -> None:
    c.play("su_caso_esta")
    c.play(CASE_STATUS_PROMPTS[info.status])
    if info.entity_code is not None:
        c.play("en_la_entidad")
        c.agi.stream_file(entity_prompt_name(info.entity_code))
    if info.days_left is None:
        return
    if info.days_left >= 0:
        c.play("le_quedan")
        c.agi.say_number(info.days_left)
    else:
        c.play("vencido_hace")
        c.agi.say_number(-info.days_left)
    c.play("dia" if abs(info.days_left) == 1 else "dias")


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else "fake"
    with open(os.devnull, "w") as devnull:
        agi = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=devnull)
        backend = SyncBackend(kind, sys.argv[2:])
        try:
            inbound(Call(agi, backend))
        finally:
            backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
