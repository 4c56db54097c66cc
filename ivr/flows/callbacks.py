"""Callback flows placed by the dialer (routes ``followup`` and ``satisfaction``).

The dialer originates the call with ``CAC311_CALLBACK_ID`` on the channel (see
agi-callback-survey); the dialplan greets the citizen (``callback_saludo``) and runs the AGI.

- Follow-up: the case number (digit by digit), its status and entity; 1 repeats, 0 agent.
- Satisfaction: "was it solved?" (1 yes, 2 no, 0 agent), then a score 1-5. Each answer is
  stored the moment it is keyed, so a hangup mid-survey keeps what was answered; "no"
  flags the case for review.

``CAC311_TRANSFER=queue`` asks the dialplan to put the citizen through to an agent.

Nothing is read out or stored before the session is proven to be the leg the dialer is
dialling now (``case_core.services.callback_legs``): a forged session on the FastAGI port, a
stale or mistyped ``CAC311_CALLBACK_ID`` gets the apology prompt, one warning in the log
(no personal data) and a count in `REFUSED_SESSIONS`; its IVR session is stored without a
callback (outcome ``devolucion_rechazada`` / ``devolucion_desconocida``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from ivr.agi.channel import AgiChannel
from ivr.agi.errors import AgiHangup
from ivr.backend import BackendUnavailable, CallbackInfo, IvrBackend
from ivr.flows.context import CallContext
from ivr.prompts.catalogue import CASE_STATUS_PROMPTS, entity_prompt_name

log = logging.getLogger(__name__)

MAX_TRIES = 3
KEY_TIMEOUT_MS = 6000
KIND_OF_ROUTE = {"followup": "seguimiento", "satisfaction": "satisfaccion"}
#: How long a session with the right token waits for the dialer to record the answer.
LEG_WAIT_SECONDS = 5.0
LEG_POLL_SECONDS = 0.1
#: Refused callback sessions since start, by verdict (desconocida / rechazada).
REFUSED_SESSIONS: Counter[str] = Counter()


async def followup(channel: AgiChannel, backend: IvrBackend) -> None:
    await _run(channel, backend, "followup", _followup)


async def satisfaction(channel: AgiChannel, backend: IvrBackend) -> None:
    await _run(channel, backend, "satisfaction", _survey)


async def _run(
    channel: AgiChannel,
    backend: IvrBackend,
    route: str,
    body: Callable[[CallContext, CallbackInfo], Awaitable[str]],
) -> None:
    ctx = CallContext(channel, backend, route)
    callback_id, check = await _authenticate(channel, backend, route)
    if check == "ok":
        await ctx.open_session(callback_id=callback_id)
    else:
        await ctx.open_session(callback_id=None)
        if check in ("desconocida", "rechazada"):
            REFUSED_SESSIONS[check] += 1
    try:
        info = None
        if check == "ok" and callback_id is not None:
            try:
                info = await backend.callback_info(callback_id)
            except BackendUnavailable:
                ctx.db_up = False
        elif check == "sin_datos":
            ctx.db_up = False
        if info is None:
            result = "sin_datos" if check in ("ok", "sin_datos") else check
            await ctx.step("devolucion", result=result)
            await ctx.play("callback_fallo")
            await ctx.finish("sin_datos" if result == "sin_datos" else f"devolucion_{result}")
            return
        outcome = await body(ctx, info)
        if outcome == "agente":
            await ctx.play("transferencia_agente")
            await ctx.set_var("CAC311_TRANSFER", "queue")
        else:
            await ctx.play("encuesta_gracias" if route == "satisfaction" else "despedida")
        await ctx.finish(outcome)
    except AgiHangup:
        await ctx.step("colgo", result="colgo")
        await ctx.finish("colgo")
        raise


async def _authenticate(
    channel: AgiChannel, backend: IvrBackend, route: str
) -> tuple[int | None, str]:
    """``(callback_id, check)``: ok, desconocida, rechazada or sin_datos (database down)."""
    raw_id = (await channel.get_variable("CAC311_CALLBACK_ID") or "").strip()
    kind = (await channel.get_variable("CAC311_CALLBACK_KIND") or "").strip()
    token = (await channel.get_variable("CAC311_CALLBACK_TOKEN") or "").strip()
    uniqueid = channel.env.uniqueid
    callback_id = int(raw_id) if raw_id.isdigit() and len(raw_id) <= 18 else None
    if callback_id is None:
        _refused("desconocida", "id", route, uniqueid)
        return None, "desconocida"
    if kind != KIND_OF_ROUTE[route]:
        _refused("rechazada", "kind", route, uniqueid)
        return callback_id, "rechazada"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEG_WAIT_SECONDS
    while True:
        try:
            check, reason = await backend.authenticate_callback(
                callback_id, kind=kind, token=token, uniqueid=uniqueid
            )
        except BackendUnavailable:
            return callback_id, "sin_datos"
        if check != "esperar":
            break
        if loop.time() >= deadline:
            check, reason = "rechazada", "never answered"
            break
        await asyncio.sleep(LEG_POLL_SECONDS)
    if check != "ok":
        _refused(check, reason, route, uniqueid)
    return callback_id, check


def _refused(check: str, reason: str, route: str, uniqueid: str) -> None:
    # One line per refused session; no caller number, no token.
    log.warning(
        "callback session refused (%s: %s) route=%s uniqueid=%s",
        check,
        reason,
        route,
        uniqueid[:64],
    )


async def _say_case(ctx: CallContext, info: CallbackInfo) -> None:
    await ctx.channel.say_digits(info.case_number)
    await ctx.play("su_caso_esta")
    await ctx.play(CASE_STATUS_PROMPTS[info.status])
    await ctx.play("en_la_entidad")
    await ctx.channel.stream_file(entity_prompt_name(info.entity_code))


async def _followup(ctx: CallContext, info: CallbackInfo) -> str:
    for _ in range(MAX_TRIES):
        await ctx.play("seguimiento_intro")
        await _say_case(ctx, info)
        key = await ctx.ask("seguimiento_opciones", timeout_ms=KEY_TIMEOUT_MS, max_digits=1)
        await ctx.step(
            "seguimiento", digits=key, result=key or "sin_respuesta", case_number=info.case_number
        )
        if key == "0":
            return "agente"
        if key != "1":
            return "informado"
    return "informado"


async def _ask(ctx: CallContext, prompt_id: str, valid: str, step: str) -> str | None:
    for attempt in range(MAX_TRIES):
        key = await ctx.ask(prompt_id, timeout_ms=KEY_TIMEOUT_MS, max_digits=1)
        if key and key in valid:
            return key
        await ctx.step(step, digits=key, result="invalida" if key else "sin_respuesta")
        if attempt < MAX_TRIES - 1:
            await ctx.play("opcion_invalida" if key else "sin_respuesta")
    return None


async def _store(ctx: CallContext, info: CallbackInfo, question: str, answer: str) -> None:
    await ctx.step(question, digits=answer, result="ok")
    if ctx.db_up:
        try:
            await ctx.backend.survey_answer(info.callback_id, question, answer)
        except BackendUnavailable:
            ctx.db_up = False


async def _survey(ctx: CallContext, info: CallbackInfo) -> str:
    await ctx.play("encuesta_intro")
    await ctx.channel.say_digits(info.case_number)
    solved = await _ask(ctx, "encuesta_resuelto", "120", "resuelto")
    if solved is None:
        return "sin_respuesta"
    if solved == "0":
        return "agente"
    await _store(ctx, info, "resuelto", solved)
    score = await _ask(ctx, "encuesta_calificacion", "12345", "satisfaccion")
    if score is None:
        return "respuesta_parcial"
    await _store(ctx, info, "satisfaccion", score)
    return "encuesta_completa"
