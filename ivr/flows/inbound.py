"""The inbound 3-1-1 call flow (route ``inbound``).

greeting (unless the dialplan played it) → active announcements → main menu →
  1-4 register a case: identity (caller-ID match, cédula by keypad; denuncias may stay anonymous)
  5 case status by case number plus its tracking code (or the last four digits of the
    cédula); an unknown number and a wrong code sound the same, so numbers cannot be walked
  6 information (consulta), 0 agent
→ the agent queue (the dialplan runs Queue() when the AGI returns; ``CAC311_NEXT=hangup`` ends
the call politely instead, only after a caller heard their case status and chose nothing more).

Bad input is never a reason to hang up: invalid keys and silence reprompt, up to
``MAX_TRIES``, then the caller goes to an agent. A hangup at any step raises AgiHangup, which
ends the session log with outcome ``colgo``; the ``colgo`` step keeps the keys of the question
the caller was answering (a cédula's digits masked) and that question's prompt as its result.

Barge-in: a caller may answer the menu from the first second. The dialplan plays the greeting
with ``Read()`` and hands the key over in ``CAC311_FIRST_KEY``; the greeting played here and
every announcement stop at any key, which becomes the answer to the main menu (the menu prompt
is then not played). Only the legal recording notice is not interruptible (asterisk_conf/).
"""

from __future__ import annotations

import asyncio

from case_core.domain.case import CASE_NUMBER_RE
from case_core.domain.cedula import parse_dtmf_cedula
from case_core.domain.errors import InvalidCedula
from ivr.agi.channel import DTMF_KEYS, AgiChannel
from ivr.agi.errors import AgiHangup
from ivr.backend import BackendUnavailable, CaseLookupLocked, CaseStatusInfo, IvrBackend
from ivr.flows.context import CallContext, retrieved
from ivr.prompts.catalogue import (
    CASE_STATUS_PROMPTS,
    CEDULA_LETTERS_KEY,
    MENU_OPTIONS,
    entity_prompt_name,
)

MAX_TRIES = 3
MENU_TIMEOUT_MS = 6000
CEDULA_TIMEOUT_MS = 8000
CASE_TIMEOUT_MS = 8000
CODE_TIMEOUT_MS = 8000
CASE_INTENTS = ("queja", "denuncia", "sugerencia", "solicitud")


class ToAgent(Exception):
    """Leave the menus and go to the agent queue, with the reason as the outcome."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


async def inbound(channel: AgiChannel, backend: IvrBackend) -> None:
    """Serve one inbound call; always leaves with CAC311_NEXT set for the dialplan."""
    ctx = CallContext(channel, backend, "inbound")
    await ctx.open_session()
    outcome = "cola"
    try:
        try:
            first_key: str | None = None
            if await channel.get_variable("CAC311_GREETED") != "1":
                first_key = await ctx.play("bienvenida", DTMF_KEYS)
            else:
                first_key = _one_key(await channel.get_variable("CAC311_FIRST_KEY"))
            if first_key is None:
                first_key = await _announcements(ctx)
            outcome = await _main_menu(ctx, first_key)
        except ToAgent as reason:
            outcome = reason.outcome
        if outcome == "fin":
            await ctx.play("despedida")
            await ctx.set_var("CAC311_NEXT", "hangup")
        else:
            await ctx.play("transferencia_agente")
            await ctx.set_var("CAC311_NEXT", "queue")
        await ctx.set_var("CAC311_IVR_OUTCOME", outcome)
        await ctx.step("salida", result=outcome, outcome=outcome)
        await ctx.finish(outcome)
    except AgiHangup:
        await ctx.step("colgo", digits=_partial(ctx), result=ctx.asking or "colgo", outcome="colgo")
        await ctx.finish("colgo")
        raise
    finally:
        ctx.drop_lookups()


def _one_key(value: str | None) -> str | None:
    """The greeting's key from the dialplan's Read() (empty: none; ``#`` ends Read: none)."""
    return value if value and len(value) == 1 and value in DTMF_KEYS else None


def _partial(ctx: CallContext) -> str | None:
    """Keys of the unanswered question: a cédula's digits are masked (its shape is kept, so
    the log shows how far the caller got without storing an identity they did not confirm)."""
    keys = ctx.partial
    if not keys:
        return None
    if ctx.asking == "cedula_solicitud":
        return "".join("x" if k.isdigit() else k for k in keys)
    return keys


async def _announcements(ctx: CallContext) -> str | None:
    """Play the active announcements; a key stops them and is the menu's answer."""
    if not ctx.db_up:
        return None
    try:
        active = await ctx.backend.announcements()
    except BackendUnavailable:
        ctx.db_up = False
        return None
    files = [a.prompt_file for a in active if a.prompt_file]
    if not files:
        return None
    key = await ctx.play("anuncios_intro", DTMF_KEYS)
    played = 0
    for prompt_file in files:
        if key is not None:
            break
        key = await ctx.channel.stream_file(prompt_file, DTMF_KEYS)
        played += 1
    await ctx.step("anuncios", digits=key, result=str(played))
    return key


async def _choose(
    ctx: CallContext,
    prompt_id: str,
    valid: str,
    step: str,
    *,
    timeout_ms: int = MENU_TIMEOUT_MS,
    first_key: str | None = None,
) -> str:
    """Ask for one key among ``valid``; reprompt on silence or a wrong key; then an agent.

    ``first_key``: a key pressed before the question (barge-in) answers the first attempt.
    """
    for attempt in range(1, MAX_TRIES + 1):
        key = await ctx.ask(
            prompt_id,
            timeout_ms=timeout_ms,
            max_digits=1,
            first_key=first_key if attempt == 1 else None,
        )
        if key and key in valid:
            await ctx.step(step, digits=key, result="ok")
            return key
        await ctx.step(step, digits=key, result="sin_respuesta" if not key else "invalida")
        if attempt < MAX_TRIES:
            await ctx.play("sin_respuesta" if not key else "opcion_invalida")
    raise ToAgent("agente_por_reintentos")


async def _main_menu(ctx: CallContext, first_key: str | None = None) -> str:
    if first_key is None:
        # Started as the menu begins, the caller-ID lookup runs while the caller listens to
        # the options (seconds): a case intent then finds it done and the caller waits for
        # nothing (issue 18). A caller who chooses consulta or estado did not need it: one
        # indexed SELECT. Not at call start: a caller who barged in on the greeting is
        # answered at once, and the greeting's callers do not all reach the menu.
        ctx.look_up_caller_soon()
    key = await _choose(ctx, "menu_principal", "".join(MENU_OPTIONS), "menu", first_key=first_key)
    intent = MENU_OPTIONS[key]
    if intent in CASE_INTENTS:
        ctx.look_up_caller_soon()  # no-op when started with the menu
    await ctx.set_var("CAC311_INTENT", intent)
    await ctx.step("intencion", result=intent, intent=intent)
    if intent in CASE_INTENTS:
        await _identify(ctx, intent)
        return "cola"
    if intent == "estado":
        return await _case_status(ctx)
    return "cola"  # consulta and agente: straight to an agent


async def _identify(ctx: CallContext, intent: str) -> None:
    if intent == "denuncia":
        key = await _choose(ctx, "denuncia_anonima", "12", "anonimo")
        if key == "1":
            await ctx.set_var("CAC311_ANONYMOUS", "1")
            await ctx.step("anonimo", result="anonima", anonymous=True)
            return
    if await _caller_id_match(ctx):
        return
    await _cedula(ctx)


async def _caller_id_match(ctx: CallContext) -> bool:
    if not ctx.db_up or not ctx.caller_number:
        return False
    try:
        matches = await ctx.citizens_by_caller_id()  # started with the menu, or the intent
    except BackendUnavailable:
        ctx.db_up = False
        return False
    # Offered only when the number belongs to exactly one registered citizen.
    if len(matches) != 1 or not matches[0].cedula:
        return False
    key = await _choose(ctx, "callerid_coincide", "12", "callerid")
    if key != "1":
        return False
    match = matches[0]
    await _identified(ctx, match.cedula or "", match.citizen_id, "callerid")
    return True


async def _identified(ctx: CallContext, cedula: str, citizen_id: int | None, how: str) -> None:
    await ctx.set_var("CAC311_CEDULA", cedula)
    if citizen_id is not None:
        await ctx.set_var("CAC311_CITIZEN_ID", str(citizen_id))
    await ctx.step("identificado", result=how, cedula=cedula, citizen_id=citizen_id)


async def _cedula(ctx: CallContext) -> None:
    for attempt in range(1, MAX_TRIES + 1):
        keys = await ctx.ask("cedula_solicitud", timeout_ms=CEDULA_TIMEOUT_MS, max_digits=20)
        if keys == CEDULA_LETTERS_KEY:
            await ctx.step("cedula", digits=keys, result="con_letras")
            raise ToAgent("cedula_con_letras")
        if not keys:
            await ctx.step("cedula", result="sin_respuesta")
            if attempt < MAX_TRIES:
                await ctx.play("sin_respuesta")
            continue
        try:
            cedula = str(parse_dtmf_cedula(keys))
        except InvalidCedula:
            # The keys are a cédula attempt: not stored, only the fact that it was invalid.
            await ctx.step("cedula", result="invalida")
            if attempt < MAX_TRIES:
                await ctx.play("cedula_invalida")
                await ctx.play("intente_nuevamente")
            continue
        citizen_id = None
        if ctx.db_up:
            try:
                match = await ctx.backend.citizen_by_cedula(cedula)
                citizen_id = match.citizen_id if match else None
            except BackendUnavailable:
                ctx.db_up = False
        await _identified(ctx, cedula, citizen_id, "cedula")
        return
    raise ToAgent("cedula_no_valida")


async def _checked_while_the_caller_waits(
    ctx: CallContext, number: str, secret: str
) -> CaseStatusInfo | None:
    """The case status, checked while the caller hears "Un momento, por favor": checking a
    tracking code takes tens of milliseconds (scrypt, then the rate limits), which the
    caller would otherwise hear as silence (issue 18). The check runs to its end even if the
    caller hangs up meanwhile, so a wrong code always counts against the rate limits."""
    check = asyncio.get_running_loop().create_task(
        ctx.backend.case_status(number, secret, ctx.caller_number or None),
        name="ivr-case-status",
    )
    _RUNNING.add(check)
    check.add_done_callback(_RUNNING.discard)
    check.add_done_callback(retrieved)
    await ctx.play("un_momento")
    return await asyncio.shield(check)


#: Checks that outlive a caller who hung up (kept referenced until they end).
_RUNNING: set[asyncio.Task[CaseStatusInfo | None]] = set()


async def _case_status(ctx: CallContext) -> str:
    heard_a_status = False
    while True:
        number = await _ask_case_number(ctx)
        if not ctx.db_up:
            await ctx.play("disculpa_sistema")
            raise ToAgent("sin_sistema")
        secret = await _ask_case_secret(ctx)
        try:
            info = await _checked_while_the_caller_waits(ctx, number, secret)
        except CaseLookupLocked:
            await ctx.step("estado", result="bloqueado")
            await ctx.play("caso_demasiados_intentos")
            raise ToAgent("estado_bloqueado") from None
        except BackendUnavailable:
            ctx.db_up = False
            await ctx.play("disculpa_sistema")
            raise ToAgent("sin_sistema") from None
        if info is None:
            # Neither the number nor the code is stored: both are keys to someone's case.
            await ctx.step("estado", result="no_coincide")
            await ctx.play("caso_no_coincide")
        else:
            await ctx.set_var("CAC311_CASE_NUMBER", number)
            await ctx.step("estado", digits=number, result=info.status, case_number=number)
            await _say_status(ctx, info)
            heard_a_status = True
        key = await ctx.ask("consulta_otra", timeout_ms=MENU_TIMEOUT_MS, max_digits=1)
        await ctx.step("otra_consulta", digits=key, result=key or "sin_respuesta")
        if key == "1":
            continue
        if key == "0":
            return "cola"
        if key:  # any other key: the caller wants something else; an agent can help
            return "cola"
        # Silence ends the call only for a caller who heard a status; one whose numbers were
        # all unknown (a typo?) is not hung up on: an agent can find the case.
        return "fin" if heard_a_status else "cola"


async def _ask_case_secret(ctx: CallContext) -> str:
    """The tracking code (six digits) or the cédula's last four; never logged."""
    for attempt in range(1, MAX_TRIES + 1):
        keys = await ctx.ask("caso_codigo", timeout_ms=CODE_TIMEOUT_MS, max_digits=6)
        if keys and keys.isdigit() and len(keys) in (4, 6):
            return keys
        await ctx.step("codigo_caso", result="invalida" if keys else "sin_respuesta")
        if attempt < MAX_TRIES:
            await ctx.play("opcion_invalida" if keys else "sin_respuesta")
            await ctx.play("intente_nuevamente")
    raise ToAgent("codigo_caso_no_valido")


async def _ask_case_number(ctx: CallContext) -> str:
    for attempt in range(1, MAX_TRIES + 1):
        keys = await ctx.ask("caso_solicitud", timeout_ms=CASE_TIMEOUT_MS, max_digits=10)
        if keys and CASE_NUMBER_RE.match(keys):
            return keys
        await ctx.step("numero_caso", result="invalida" if keys else "sin_respuesta")
        if attempt < MAX_TRIES:
            if keys:
                await ctx.play("caso_no_encontrado")
            else:
                await ctx.play("sin_respuesta")
            await ctx.play("intente_nuevamente")
    raise ToAgent("numero_caso_no_valido")


async def _say_status(ctx: CallContext, info: CaseStatusInfo) -> None:
    channel = ctx.channel
    await ctx.play("su_caso_esta")
    await ctx.play(CASE_STATUS_PROMPTS[info.status])
    if info.entity_code is not None:  # a confidential case never names its entity
        await ctx.play("en_la_entidad")
        await channel.stream_file(entity_prompt_name(info.entity_code))
    if info.public_notes:
        await ctx.play("caso_notas_publicas")
        if info.note_prompt is not None:  # the latest public note, once rendered
            await channel.stream_file(info.note_prompt)
    if info.days_left is None:
        return
    if info.days_left >= 0:
        await ctx.play("le_quedan")
        await channel.say_number(info.days_left)
    else:
        await ctx.play("vencido_hace")
        await channel.say_number(-info.days_left)
    await ctx.play("dia" if abs(info.days_left) == 1 else "dias")
