"""Case-number read-back (route ``readback``).

The agent's desktop redirects the caller's channel (AMI Redirect) into ``[cac311-readback]``
with ``CAC311_CASE_NUMBER`` set; this flow says the number digit by digit, offers to repeat
it, and returns so the dialplan can take the caller back.
"""

from __future__ import annotations

from case_core.domain.case import is_case_number
from ivr.agi.channel import AgiChannel
from ivr.agi.errors import AgiHangup
from ivr.backend import IvrBackend
from ivr.flows.context import CallContext

MAX_REPEATS = 3


async def readback(channel: AgiChannel, backend: IvrBackend) -> None:
    ctx = CallContext(channel, backend, "readback")
    await ctx.open_session()
    try:
        number = (await channel.get_variable("CAC311_CASE_NUMBER") or "").strip()
        if not is_case_number(number):
            await ctx.step("lectura", result="sin_numero")
            await ctx.finish("sin_numero")
            return
        await ctx.step("lectura", digits=number, result="inicio", case_number=number)
        await ctx.play("readback_su_numero")
        await channel.say_digits(number)
        for _ in range(MAX_REPEATS):
            key = await ctx.ask("readback_repetir", timeout_ms=4000, max_digits=1)
            if key != "1":
                break
            await ctx.play("readback_repito")
            await channel.say_digits(number)
        await ctx.step("lectura", result="leido")
        await ctx.finish("leido")
    except AgiHangup:
        await ctx.finish("colgo")
        raise
