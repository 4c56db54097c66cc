"""The prompt catalogue is complete and unambiguous, and the builder renders Asterisk-ready WAVs."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from ivr.prompts import build as build_module
from ivr.prompts.build import PromptBuildError, build_prompts
from ivr.prompts.catalogue import (
    ASTERISK_SOUNDS,
    BY_ID,
    CASE_STATUS_PROMPTS,
    CEDULA_LETTERS_KEY,
    DIALPLAN_PROMPTS,
    MENU_OPTIONS,
    PROMPTS,
    SOUND_DIR,
    announcement_prompt_name,
    entity_prompt_name,
    entity_prompts,
    file_for,
    is_valid_file_name,
    prompt,
)

SPANISH_HINTS = ("que", "de", "la", "el", "su", "por", "para", "marque", "en", "le", "no")
TOOLS_MISSING = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(
    bool(TOOLS_MISSING), reason=f"{', '.join(TOOLS_MISSING)} not installed (apt: espeak-ng sox)"
)


def read_wav(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()


# -- Catalogue ---------------------------------------------------------------------------


def test_given_the_catalogue_then_ids_and_file_names_are_unique_and_well_formed():
    ids = [p.id for p in PROMPTS]
    files = [p.file for p in PROMPTS]
    assert len(ids) == len(set(ids)) and len(files) == len(set(files))
    for p in PROMPTS:
        assert p.file.startswith(f"{SOUND_DIR}/") and is_valid_file_name(p.file), p.file
        assert BY_ID[p.id] is p and file_for(p.id) == p.file


def test_given_the_catalogue_then_every_text_is_spanish_without_digits_to_misread():
    for p in PROMPTS:
        words = p.text.lower().replace(",", " ").replace(".", " ").split()
        assert words, p.id
        assert not any(ch.isdigit() for ch in p.text), f"{p.id}: write numbers as words"
        if len(words) > 3:
            assert any(w in SPANISH_HINTS for w in words), p.id
    assert "tres uno uno" in prompt("bienvenida").text
    assert any(ch in "áéíóúñ¿" for p in PROMPTS for ch in p.text)


def test_given_the_main_menu_then_each_key_is_announced_with_its_intent():
    text = prompt("menu_principal").text
    spoken = {"1": "uno", "2": "dos", "3": "tres", "4": "cuatro", "5": "cinco", "6": "seis"}
    spoken["0"] = "cero"
    words = {"queja": "queja", "denuncia": "denuncia", "sugerencia": "sugerencia",
             "solicitud": "solicitud", "estado": "estado", "consulta": "consulta",
             "agente": "agente"}  # fmt: skip
    for key, intent in MENU_OPTIONS.items():
        sentence = next(s for s in text.split(".") if f"marque {spoken[key]}" in s)
        assert words[intent] in sentence, (key, intent)


def test_given_the_cedula_prompt_then_keys_and_the_letters_fallback_are_explained():
    text = prompt("cedula_solicitud").text
    assert "asterisco" in text and "numeral" in text
    assert CEDULA_LETTERS_KEY == "0" and "letras, marque cero" in text


def test_given_case_statuses_then_each_has_a_prompt():
    assert set(CASE_STATUS_PROMPTS) == {
        "registrado", "asignado", "en_proceso", "devuelto_311", "cerrado"
    }  # fmt: skip
    for prompt_id in CASE_STATUS_PROMPTS.values():
        assert prompt_id in BY_ID
    for prompt_id in DIALPLAN_PROMPTS:
        assert prompt_id in BY_ID


def test_given_entity_codes_when_named_then_file_names_are_safe_and_stable():
    assert entity_prompt_name("MIVIOT") == "cac311/entidad-miviot"
    assert entity_prompt_name("Alcaldía de Panamá") == "cac311/entidad-alcaldia-de-panama"
    assert announcement_prompt_name("Aviso 1") == "cac311/anuncio-aviso-1"
    assert is_valid_file_name(entity_prompt_name("../etc/passwd"))
    assert entity_prompts([("IDAAN", "el IDAAN")]) == [("cac311/entidad-idaan", "el IDAAN")]
    with pytest.raises(ValueError):
        entity_prompt_name("¿?")
    with pytest.raises(KeyError, match="nope"):
        prompt("nope")


def test_given_asterisk_sounds_then_they_are_names_not_ours():
    for name in ASTERISK_SOUNDS.values():
        assert not name.startswith(f"{SOUND_DIR}/")


# -- Builder -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("prompts")
    extra = entity_prompts([("MIVIOT", "Ministerio de Vivienda")])
    return out, build_prompts(out, extra=extra)


@needs_tools
def test_given_the_catalogue_when_built_then_every_prompt_is_8khz_mono_16bit_wav(built):
    tmp_path, files = built
    assert len(files) == len(PROMPTS) + 1
    assert files[0] == tmp_path / f"{PROMPTS[0].file}.wav"
    for path in files:
        rate, channels, width, frames = read_wav(path)
        assert (rate, channels, width) == (8000, 1, 2), path.name
        assert frames > 8000 * 0.2, f"{path.name} is too short to hold speech"
    assert (tmp_path / "cac311" / "entidad-miviot.wav").is_file()


@needs_tools
def test_given_a_built_directory_when_rebuilt_then_only_changed_texts_are_rendered(
    built, tmp_path, monkeypatch
):
    shutil.copytree(built[0], tmp_path, dirs_exist_ok=True)
    rendered: list[str] = []
    real_render = build_module._render

    def counting(espeak, sox, voice, speed, text, target):
        rendered.append(target.name)
        real_render(espeak, sox, voice, speed, text, target)

    monkeypatch.setattr(build_module, "_render", counting)
    build_prompts(tmp_path)
    assert rendered == []  # the entity prompt of the first build is kept, not re-rendered

    (tmp_path / "cac311" / "despedida.wav").unlink()
    build_prompts(tmp_path, extra=[("cac311/entidad-idaan", "IDAAN")])
    assert sorted(rendered) == ["despedida.wav", "entidad-idaan.wav"]

    rendered.clear()
    build_prompts(tmp_path, extra=[("cac311/entidad-idaan", "el IDAAN")])
    assert rendered == ["entidad-idaan.wav"]


@needs_tools
def test_given_bad_extra_prompts_when_built_then_a_clear_error_is_raised(tmp_path):
    with pytest.raises(PromptBuildError, match="bad prompt file name"):
        build_prompts(tmp_path, extra=[("../x", "hola")])
    with pytest.raises(PromptBuildError, match="empty text"):
        build_prompts(tmp_path, extra=[("cac311/x", "  ")])
    with pytest.raises(PromptBuildError, match="unknown espeak-ng voice 'xx-nope'"):
        build_prompts(tmp_path, voice="xx-nope")  # espeak-ng itself would fall back silently
    assert not (tmp_path / "cac311").exists()


def test_given_no_espeak_on_path_when_built_then_the_error_says_what_to_install(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptBuildError, match="apt-get install espeak-ng"):
        build_prompts(tmp_path / "out")
