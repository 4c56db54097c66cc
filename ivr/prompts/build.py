"""Render the prompt catalogue to WAV files Asterisk can play, with espeak-ng and sox.

Asterisk plays ``.wav`` files that hold 16-bit signed linear PCM, mono, 8000 Hz ("slin" at
8 kHz) without transcoding cost. espeak-ng writes 22050 Hz WAV, so every prompt goes
``espeak-ng -w tmp.wav`` -> ``sox tmp.wav -r 8000 -c 1 -b 16 -e signed-integer out.wav``.

Output layout mirrors the file names: ``<out_dir>/cac311/menu-principal.wav``, so ``out_dir``
is the language sound directory (``/var/lib/asterisk/sounds/es``). A manifest
(``<out_dir>/cac311/.manifest.json``) records a hash of voice, speed and text for every file;
a rebuild skips files whose hash is unchanged and whose WAV is still there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ivr.prompts.catalogue import PROMPTS, SOUND_DIR, is_valid_file_name

DEFAULT_VOICE = "es-419"
"""espeak-ng's Latin American Spanish voice, the closest it ships to Panamanian Spanish."""

DEFAULT_SPEED = 150
"""Words per minute; espeak-ng's default (175) is hurried on a phone line."""

SAMPLE_RATE = 8000
MANIFEST_NAME = ".manifest.json"
_log = logging.getLogger(__name__)
_RECIPE_VERSION = "1"  # bump when the rendering commands change, to force a rebuild


class PromptBuildError(RuntimeError):
    """A prompt could not be rendered (missing tool, bad name, tool failure)."""


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = {"espeak-ng": "espeak-ng", "sox": "sox"}[name]
        raise PromptBuildError(
            f"'{name}' was not found on PATH; install it (Debian: apt-get install {package})"
        )
    return path


def _check_voice(espeak: str, voice: str) -> None:
    """espeak-ng silently falls back to its default voice: refuse a voice it does not list."""
    listing = subprocess.run(
        [espeak, "--voices"], capture_output=True, text=True, check=False
    ).stdout
    known: set[str] = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:
            known.update((fields[1], fields[3], fields[4]))
    if voice not in known:
        raise PromptBuildError(f"unknown espeak-ng voice {voice!r} (see: espeak-ng --voices=es)")


def _digest(voice: str, speed: int, text: str) -> str:
    payload = f"{_RECIPE_VERSION}\0{voice}\0{speed}\0{text}".encode()
    return hashlib.sha256(payload).hexdigest()


def _render(espeak: str, sox: str, voice: str, speed: int, text: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cac311-prompt-") as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        commands = (
            [espeak, "-v", voice, "-s", str(speed), "-w", str(raw), "--", text],
            [sox, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
             "-e", "signed-integer", str(out)],
        )  # fmt: skip
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise PromptBuildError(
                    f"{Path(command[0]).name} failed for {target.name} "
                    f"(exit {done.returncode}): {done.stderr.strip()[:300]}"
                )
        os.replace(out, target)  # atomic: Asterisk never plays a half-written file


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def build_prompts(
    out_dir: str | os.PathLike[str],
    *,
    voice: str = DEFAULT_VOICE,
    speed: int = DEFAULT_SPEED,
    extra: Iterable[tuple[str, str]] = (),
    workers: int | None = None,
) -> list[Path]:
    """Render every catalogue prompt plus ``extra`` ``(name, text)`` pairs; return all WAV paths.

    Files whose voice, speed and text are unchanged since the last build are not re-rendered.
    Raises :class:`PromptBuildError` when espeak-ng or sox is missing or fails.
    """
    espeak = _require_tool("espeak-ng")
    sox = _require_tool("sox")
    _check_voice(espeak, voice)
    root = Path(out_dir)
    jobs: dict[str, str] = {p.file: p.text for p in PROMPTS}
    for name, text in extra:
        if not is_valid_file_name(name):
            raise PromptBuildError(f"bad prompt file name {name!r} (want '{SOUND_DIR}/a-b-c')")
        if not text.strip():
            raise PromptBuildError(f"empty text for prompt {name!r}")
        if name in jobs and jobs[name] != text:
            raise PromptBuildError(f"prompt {name!r} given twice with different texts")
        jobs[name] = text

    manifest_path = root / SOUND_DIR / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    wanted = {name: _digest(voice, speed, text) for name, text in jobs.items()}
    todo: Sequence[str] = [
        name
        for name in jobs
        if manifest.get(name) != wanted[name] or not (root / f"{name}.wav").is_file()
    ]

    def work(name: str) -> None:
        _render(espeak, sox, voice, speed, jobs[name], root / f"{name}.wav")

    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
        for name, _ in zip(todo, pool.map(work, todo), strict=True):
            manifest[name] = wanted[name]

    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_manifest = manifest_path.with_suffix(".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp_manifest, manifest_path)

    _log.info("prompts: %d rendered, %d unchanged in %s", len(todo), len(jobs) - len(todo), root)
    return [root / f"{name}.wav" for name in jobs]
