"""Callback flows placed by the dialer (routes ``followup`` and ``satisfaction``).

The dialer originates the call with ``CAC311_CALLBACK_ID`` on the channel (see
agi-callback-survey); the dialplan greets the citizen (``callback_saludo``) and runs the AGI.

- Follow-up: the case number (digit by digit), its status and entity; 1 repeats, 0 agent.
- Satisfaction: "was it solved?" (1 yes, 2 no, 0 agent), then a score 1-5. Each answer is
  stored the moment it is keyed, so a hangup mid-survey keeps what was answered; "no"
  flags the case for review.

``CAC311_TRANSFER=queue`` asks the dialplan to put the citizen through to an agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ivr.agi.channel import AgiChannel
from ivr.agi.errors import AgiHangup
from ivr.backend import BackendUnavailable, CallbackInfo, IvrBackend
from ivr.flows.context import CallContext
from ivr.prompts.catalogue import CASE_STATUS_PROMPTS, entity_prompt_name

MAX_TRIES = 3
KEY_TIMEOUT_MS = 6000


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
    raw_id = (await channel.get_variable("CAC311_CALLBACK_ID") or "").strip()
    callback_id = int(raw_id) if raw_id.isdigit() else None
    ctx = CallContext(channel, backend, route)
    await ctx.open_session(callback_id=callback_id)
    try:
        info = None
        if callback_id is not None:
            try:
                info = await backend.callback_info(callback_id)
            except BackendUnavailable:
                ctx.db_up = False
        if info is None:
            await ctx.step("devolucion", result="sin_datos")
            await ctx.play("callback_fallo")
            await ctx.finish("sin_datos")
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
