"""Hold music rendered at install, so the queue is never silent out of the box.

res_musiconhold disables a class whose directory is empty (Asterisk 22 logs ``No music on hold
classes configured`` and the caller waits in silence: seen on the real PBX). ``cac311 prompts
moh --out <astdatadir>/moh/cac311`` writes one file for musiconhold.conf ``[default]``: a slow,
quiet arpeggio of sine tones, synthesised here (no tool, no licence question), as Asterisk
plays ``.wav`` best: 16-bit signed linear PCM, mono, 8000 Hz. A site with licensed music
replaces it (or installs Debian's ``asterisk-moh-opsound-wav``, CC-BY-SA, and points the
class at it).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

SAMPLE_RATE = 8000
FILE_NAME = "cac311-espera.wav"
NOTE_SECONDS = 0.6
# A-minor / F / C / G, one octave up and back: calm, no melody to tire of.
_CHORDS = ((220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (196.0, 261.63, 329.63),
           (196.0, 246.94, 293.66))  # fmt: skip
_PEAK = 0.25  # of full scale: hold music under the announcements, never loud


def render_hold_music(seconds: float = 32.0) -> bytes:
    """The PCM frames (16-bit little endian, mono, 8 kHz) of ``seconds`` of hold music."""
    per_note = int(NOTE_SECONDS * SAMPLE_RATE)
    total = int(seconds * SAMPLE_RATE)
    frames = bytearray()
    n = 0
    step = 0
    while n < total:
        chord = _CHORDS[(step // 6) % len(_CHORDS)]
        pattern = (0, 1, 2, 1, 2, 1)
        freq = chord[pattern[step % 6]]
        for i in range(min(per_note, total - n)):
            t = i / SAMPLE_RATE
            # Soft attack and a long decay, so notes do not click.
            envelope = min(1.0, i / 200) * math.exp(-3.0 * t / NOTE_SECONDS)
            value = envelope * (
                math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
            )
            frames += struct.pack("<h", int(_PEAK * 32767 * value / 1.3))
        n += per_note
        step += 1
    return bytes(frames)


def write_hold_music(out_dir: str | Path, seconds: float = 32.0) -> Path:
    """Write ``cac311-espera.wav`` into ``out_dir`` (created if missing); return its path."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(render_hold_music(seconds))
    tmp.replace(path)
    return path
