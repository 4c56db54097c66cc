"""The IVR prompt catalogue: every recorded sentence a caller hears, in Spanish (Panama).

Each :class:`Prompt` has a stable ``id`` (used in code), the ``text`` (what the voice says;
it is also the script for a voice talent who re-records the prompts later) and a ``file``
name without extension, relative to Asterisk's sounds directory for the channel language:
``cac311/menu-principal`` is played from ``<astdatadir>/sounds/es/cac311/menu-principal.wav``
because the dialplan sets ``CHANNEL(language)=es`` (Asterisk looks in ``sounds/<language>/``
first). :func:`ivr.prompts.build.build_prompts` renders them.

Conventions callers and flows rely on:

* Numbers in the texts are written as words where a synthesiser could misread them
  ("tres uno uno", never "3-1-1"); keys are named as a Panamanian caller says them
  ("asterisco", "numeral").
* Digits, numbers and dates (a case number, days left) are never recorded by us: AGI
  ``SAY DIGITS`` / ``SAY NUMBER`` use the ``digits/`` files that Asterisk ships in its Spanish
  sound pack (see :data:`ASTERISK_SOUNDS`).
* Entity names (MIVIOT, IDAAN, ...) and announcements come from the database, so they cannot be
  listed here: :func:`entity_prompt_name` and :func:`announcement_prompt_name` give their file
  names, and the builder renders them from ``extra=[(name, text), ...]``.
* The dialplan itself plays the prompts in :data:`DIALPLAN_PROMPTS` (so a caller hears the
  greeting and the recording notice even when the FastAGI server is down) and then sets the
  channel variable ``CAC311_GREETED=1``: a flow must not play them again.
* A cédula is keyed with ``*`` for each dash and ``#`` to finish (``8*123*4567#``). Cédulas that
  begin with letters (E, N, PE, or a province followed by AV or PI) cannot be keyed: the caller
  presses :data:`CEDULA_LETTERS_KEY` and is taken to an agent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

SOUND_DIR = "cac311"
"""Sub-directory of the language sound directory holding every prompt of ours."""

_FILE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Prompt:
    """One recorded sentence: stable id, Spanish text, file name without extension."""

    id: str
    text: str
    file: str

    @property
    def basename(self) -> str:
        """The file name without the ``cac311/`` directory."""
        return self.file.rsplit("/", 1)[-1]


def _p(prompt_id: str, text: str) -> Prompt:
    return Prompt(prompt_id, text, f"{SOUND_DIR}/{prompt_id.replace('_', '-')}")


PROMPTS: tuple[Prompt, ...] = (
    # -- Played by the dialplan before the AGI starts (see DIALPLAN_PROMPTS) ----------------
    _p(
        "bienvenida",
        "Bienvenido al Centro de Atención Ciudadana tres uno uno, del Gobierno de Panamá.",
    ),
    _p(
        "aviso_grabacion",
        "Para fines de calidad y seguimiento, esta llamada será grabada.",
    ),
    # -- Inbound IVR -------------------------------------------------------------------
    _p("anuncios_intro", "Antes de continuar, le informamos lo siguiente."),
    _p(
        "menu_principal",
        "Para presentar una queja, marque uno. "
        "Para presentar una denuncia, marque dos. "
        "Para dejar una sugerencia, marque tres. "
        "Para hacer una solicitud, marque cuatro. "
        "Para consultar el estado de un caso, marque cinco. "
        "Para información o consultas generales, marque seis. "
        "Para hablar con un agente, marque cero.",
    ),
    _p("opcion_invalida", "La opción marcada no es válida."),
    _p("sin_respuesta", "No hemos recibido ninguna opción."),
    _p(
        "cedula_solicitud",
        "Por favor, marque su número de cédula. "
        "Marque asterisco en lugar de cada guion y, al terminar, marque numeral. "
        "Por ejemplo, para la cédula ocho, guion, ciento veintitrés, guion, "
        "cuatro mil quinientos sesenta y siete, marque: ocho, asterisco, uno, dos, tres, "
        "asterisco, cuatro, cinco, seis, siete, numeral. "
        "Si su cédula comienza con letras, marque cero para hablar con un agente.",
    ),
    _p("cedula_invalida", "El número de cédula marcado no es válido."),
    _p("intente_nuevamente", "Por favor, intente nuevamente."),
    _p(
        "callerid_coincide",
        "Hemos identificado su número de teléfono en nuestros registros. "
        "Si usted es la persona registrada con este número, marque uno para confirmar. "
        "Para marcar otra cédula, marque dos.",
    ),
    _p(
        "denuncia_anonima",
        "Si desea presentar su denuncia de forma anónima, marque uno. "
        "Si desea identificarse, marque dos.",
    ),
    _p(
        "caso_solicitud",
        "Por favor, marque los diez dígitos de su número de caso y, al terminar, marque numeral.",
    ),
    _p("caso_no_encontrado", "No encontramos ningún caso con ese número."),
    _p(
        "caso_codigo",
        "Ahora marque los seis dígitos del código de seguimiento que le dimos al registrar "
        "su caso, o los cuatro últimos dígitos de su cédula, y al terminar marque numeral.",
    ),
    _p(
        "caso_no_coincide",
        "El número de caso o el código no coinciden con nuestros registros.",
    ),
    _p(
        "caso_demasiados_intentos",
        "Por su seguridad, no podemos consultar más casos desde este número por ahora.",
    ),
    _p(
        "caso_notas_publicas",
        "La entidad ha dejado una respuesta en su caso. Puede leerla en la página del "
        "Centro tres uno uno, con su número de caso y su código, o un agente se la puede leer.",
    ),
    _p("su_caso_esta", "Su caso está"),
    _p("estado_registrado", "registrado"),
    _p("estado_asignado", "asignado"),
    _p("estado_en_proceso", "en proceso"),
    _p("estado_devuelto", "devuelto al Centro tres uno uno para su revisión"),
    _p("estado_cerrado", "cerrado"),
    _p("en_la_entidad", "en la entidad"),
    _p("le_quedan", "Le quedan"),
    _p("vencido_hace", "El plazo de respuesta está vencido hace"),
    _p("dia", "día"),
    _p("dias", "días"),
    _p(
        "consulta_otra",
        "Para consultar otro caso, marque uno. Para hablar con un agente, marque cero.",
    ),
    _p("un_momento", "Un momento, por favor."),
    _p("transferencia_agente", "Le comunicamos con un agente. Por favor, permanezca en línea."),
    _p(
        "disculpa_sistema",
        "Disculpe, en este momento no podemos consultar nuestro sistema. Un agente le atenderá.",
    ),
    _p(
        "despedida", "Gracias por llamar al Centro de Atención Ciudadana tres uno uno. Hasta luego."
    ),
    # -- Queue (queues.conf periodic-announce and the dialplan's queue loop) --------------
    _p("cola_periodico", "Gracias por su paciencia. En breve un agente le atenderá."),
    _p(
        "cola_espera",
        "Todos nuestros agentes continúan ocupados. "
        "Por favor, permanezca en línea; su llamada será atendida en orden de llegada.",
    ),
    # -- Outbound callbacks ----------------------------------------------------------
    _p(
        "callback_saludo",
        "Hola. Le llamamos del Centro de Atención Ciudadana tres uno uno, del Gobierno de Panamá.",
    ),
    _p("seguimiento_intro", "Le llamamos para informarle sobre su caso número"),
    _p(
        "seguimiento_opciones",
        "Para escuchar de nuevo esta información, marque uno. "
        "Para hablar con un agente, marque cero.",
    ),
    _p(
        "encuesta_intro",
        "Nos gustaría conocer su opinión sobre la atención de su caso número",
    ),
    _p(
        "encuesta_resuelto",
        "¿Se resolvió su caso? Si se resolvió, marque uno. Si no se resolvió, marque dos. "
        "Para hablar con un agente, marque cero.",
    ),
    _p(
        "encuesta_calificacion",
        "En una escala del uno al cinco, donde uno es muy malo y cinco es excelente, "
        "¿cómo califica la atención recibida? Marque un número del uno al cinco.",
    ),
    _p("encuesta_gracias", "Gracias por sus respuestas. Su opinión nos ayuda a mejorar."),
    _p(
        "callback_fallo",
        "Disculpe, en este momento no podemos completar esta llamada. "
        "Volveremos a comunicarnos con usted. Hasta luego.",
    ),
    # -- Case-number read-back (agent desktop -> AMI Redirect -> [cac311-readback]) -------
    _p("readback_su_numero", "Su número de caso es"),
    _p("readback_repito", "Repito."),
    _p("readback_repetir", "Para repetir el número, marque uno."),
)

BY_ID: Mapping[str, Prompt] = MappingProxyType({p.id: p for p in PROMPTS})
"""Every catalogue prompt by id."""

DIALPLAN_PROMPTS: tuple[str, ...] = ("bienvenida", "aviso_grabacion", "callback_saludo")
"""Prompts played by extensions.conf itself; a flow never replays them (CAC311_GREETED=1)."""

MENU_OPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "1": "queja",
        "2": "denuncia",
        "3": "sugerencia",
        "4": "solicitud",
        "5": "estado",
        "6": "consulta",
        "0": "agente",
    }
)
"""Main-menu key -> intent, in the order :data:`PROMPTS` ``menu_principal`` says them."""

CEDULA_LETTERS_KEY = "0"
"""Key a caller presses, instead of a cédula, when the cédula begins with letters."""

CASE_STATUS_PROMPTS: Mapping[str, str] = MappingProxyType(
    {
        "registrado": "estado_registrado",
        "asignado": "estado_asignado",
        "en_proceso": "estado_en_proceso",
        "devuelto_311": "estado_devuelto",
        "cerrado": "estado_cerrado",
    }
)
"""Case status value (``case_core`` CaseStatus) -> prompt id of the word said for it."""

ASTERISK_SOUNDS: Mapping[str, str] = MappingProxyType(
    {
        "beep": "beep",
        "silence_1": "silence/1",
        "queue_thereare": "queue-thereare",
        "queue_callswaiting": "queue-callswaiting",
        "queue_youarenext": "queue-youarenext",
        "queue_holdtime": "queue-holdtime",
        "queue_minutes": "queue-minutes",
        "queue_thankyou": "queue-thankyou",
    }
)
"""Files from Asterisk's Spanish core sound pack (``asterisk-core-sounds-es``) that we use.

SAY DIGITS and SAY NUMBER need no files from us: with language ``es`` they play
``digits/0`` .. ``digits/9``, ``digits/100-and``, ``digits/thousand``, ... from the same pack.
app_queue's position and hold-time announcements use the ``queue-*`` files.
"""


def prompt(prompt_id: str) -> Prompt:
    """The catalogue prompt with this id; KeyError names an unknown id."""
    try:
        return BY_ID[prompt_id]
    except KeyError:
        raise KeyError(f"unknown prompt id: {prompt_id!r}") from None


def file_for(prompt_id: str) -> str:
    """The file name (without extension) Asterisk plays for a prompt id."""
    return prompt(prompt_id).file


def _slug(code: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        raise ValueError(f"cannot make a prompt file name from {code!r}")
    return slug


def entity_prompt_name(entity_code: str) -> str:
    """File name of the prompt saying an entity's name (``cac311/entidad-miviot``)."""
    return f"{SOUND_DIR}/entidad-{_slug(entity_code)}"


def announcement_prompt_name(announcement_code: str) -> str:
    """File name of a recorded announcement read before the main menu."""
    return f"{SOUND_DIR}/anuncio-{_slug(announcement_code)}"


def entity_prompts(entities: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(file name, text)`` pairs for :func:`build_prompts` ``extra`` from (code, name) pairs."""
    return [(entity_prompt_name(code), name) for code, name in entities]


def is_valid_file_name(name: str) -> bool:
    """True for a name the builder accepts: ``cac311/`` then lowercase words joined by ``-``."""
    directory, _, base = name.partition("/")
    return directory == SOUND_DIR and bool(_FILE_NAME.match(base))
