"""Where recordings live on disk, and how a path reported by Asterisk maps onto them safely.

Layout: MixMonitor writes ``${CAC311_RECORDINGS_DIR}/YYYY/MM/DD/<uniqueid>.wav`` (UTC date;
``/var/spool/asterisk/monitor/cac311`` in asterisk_conf/extensions.conf), and our
``Settings.recordings_dir`` is that same tree (mounted or synced from the PBX). The
AMI tracker stores in ``calls.recording_path`` the value of the ``VarSet MIXMONITOR_FILENAME``
event: an absolute path ON THE PBX, e.g.
``/var/spool/asterisk/monitor/2026/11/25/1795475111.1.wav``.
It is mapped to a path relative to our directory by, in order:

1. stripping a known PBX prefix (``DEFAULT_PBX_PREFIXES``, longest first; the rest is kept),
2. otherwise (or if that rest is not a safe path), taking the ``YYYY/MM/DD/<file>`` tail,
3. a relative path is taken as relative to the recordings directory (MixMonitor's own rule).

The capture in ``../shared/asterisk`` (Asterisk 22.10.1, ``ami-queue-call-answered``) used a
flat ``/var/spool/asterisk/monitor/1795475111.1.wav``; for such a flat name the store also
looks under the UTC date of the uniqueid's epoch (and the next day, for calls that cross
midnight before MixMonitor starts).

Path safety: every component must be a plain name (letters, digits, ``._-``; no ``..``, no
hidden files, no backslash or NUL) and the suffix an audio one; the joined path is resolved
(following symlinks) and must still lie inside the resolved recordings directory and be a
regular file; the file is then opened with ``O_NOFOLLOW``. A path that fails any check maps to
nothing, so callers answer 404 and read no byte.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

# asterisk_conf/extensions.conf records into ${CAC311_RECORDINGS_DIR}/YYYY/MM/DD/ with
# CAC311_RECORDINGS_DIR = /var/spool/asterisk/monitor/cac311; the bare monitor directory is
# Asterisk's default (and what the captured transcript shows). Longest prefix wins.
DEFAULT_PBX_PREFIXES: tuple[str, ...] = (
    "/var/spool/asterisk/monitor/cac311/",
    "/var/spool/asterisk/monitor/",
)
AUDIO_SUFFIXES = {".wav": "wav", ".gsm": "gsm"}
CONTENT_TYPES = {"wav": "audio/wav", "gsm": "audio/x-gsm"}
MAX_DEPTH = 4

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DATED_TAIL = re.compile(r"(?:^|/)(\d{4}/\d{2}/\d{2}/[^/]+)$")
# Asterisk uniqueids are "<epoch>.<sequence>", optionally prefixed by "<systemname>-".
_UNIQUEID = re.compile(r"^(?:[A-Za-z0-9_.]+-)?(\d{9,11})\.\d+$")
_GSM_FRAME = 33  # bytes per 20 ms GSM 06.10 frame; each frame starts with the 0xD nibble


class NotAudio(ValueError):
    """The file exists but is not a recording we can play."""


@dataclass(frozen=True)
class AudioInfo:
    """What a recording file holds."""

    audio_format: str
    duration_seconds: float
    size_bytes: int
    sha256: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.audio_format]


def _safe_relative(raw: str) -> PurePosixPath | None:
    parts = raw.split("/")
    if not parts or len(parts) > MAX_DEPTH:
        return None
    if any(not _NAME.match(part) or ".." in part for part in parts):
        return None
    rel = PurePosixPath(*parts)
    if rel.suffix.lower() not in AUDIO_SUFFIXES:
        return None
    return rel


def relative_recording_path(
    reported: str, *, pbx_prefixes: tuple[str, ...] = DEFAULT_PBX_PREFIXES
) -> PurePosixPath | None:
    """Map a path reported by Asterisk (or stored by us) to a safe relative path, or None."""
    raw = (reported or "").strip()
    if not raw or "\x00" in raw or "\\" in raw or "//" in raw or ".." in raw.split("/"):
        return None
    if not raw.startswith("/"):
        return _safe_relative(raw)
    for prefix in sorted((p.rstrip("/") + "/" for p in pbx_prefixes), key=len, reverse=True):
        if raw.startswith(prefix):
            rel = _safe_relative(raw[len(prefix) :])
            if rel is not None:
                return rel
    match = _DATED_TAIL.search(raw)
    return _safe_relative(match.group(1)) if match else None


def uniqueid_date(uniqueid: str) -> datetime | None:
    """The UTC creation time encoded in an Asterisk uniqueid (``1795475111.1``), or None."""
    match = _UNIQUEID.match(uniqueid)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def candidate_paths(
    reported: str, *, pbx_prefixes: tuple[str, ...] = DEFAULT_PBX_PREFIXES
) -> list[PurePosixPath]:
    """Relative paths to try, best first: the mapped path, then (for a flat name) the dated
    directories of the uniqueid's UTC day and the day after."""
    rel = relative_recording_path(reported, pbx_prefixes=pbx_prefixes)
    if rel is None:
        return []
    found = [rel]
    if len(rel.parts) == 1:
        name = rel.name
        when = uniqueid_date(name[: -len(rel.suffix)])
        if when is not None:
            for day in (when, when + timedelta(days=1)):
                found.append(PurePosixPath(day.strftime("%Y/%m/%d")) / name)
    return found


def inspect_audio(path: Path) -> AudioInfo:
    """Check that ``path`` is a playable recording; return its duration, size and SHA-256.

    WAV must be RIFF/WAVE PCM readable by the ``wave`` module (duration = frames / rate);
    ``.gsm`` is raw GSM 06.10 at 8 kHz: whole 33-byte frames of 20 ms, each starting with
    the 0xD nibble. Raises NotAudio otherwise, OSError when it cannot be read.
    """
    fmt = AUDIO_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise NotAudio("unsupported suffix")
    with _open_nofollow(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if fmt == "wav":
            try:
                with wave.open(fh, "rb") as w:
                    rate, frames = w.getframerate(), w.getnframes()
            except (wave.Error, EOFError) as err:
                raise NotAudio(f"not a RIFF/WAVE PCM file: {err}") from None
            if rate <= 0:
                raise NotAudio("zero sample rate")
            duration = frames / rate
        else:
            head = fh.read(1)
            if size == 0 or size % _GSM_FRAME or head[0] >> 4 != 0xD:
                raise NotAudio("not a raw GSM 06.10 file")
            duration = size / _GSM_FRAME * 0.02
        fh.seek(0)
        digest = hashlib.sha256()
        while chunk := fh.read(1 << 16):
            digest.update(chunk)
    return AudioInfo(fmt, round(duration, 3), size, digest.hexdigest())


def _open_nofollow(path: Path):  # type: ignore[no-untyped-def]
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAudio("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class RecordingStore:
    """The recordings directory: safe lookup, inspection and removal of files."""

    def __init__(self, root: Path, *, pbx_prefixes: tuple[str, ...] = DEFAULT_PBX_PREFIXES) -> None:
        self.root = Path(root).resolve()
        self.pbx_prefixes = pbx_prefixes

    def resolve(self, relative: str | PurePosixPath) -> Path | None:
        """The real path of ``relative`` if it is a regular file inside the root, else None."""
        rel = _safe_relative(str(relative))
        if rel is None:
            return None
        try:
            real = (self.root / rel).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or real == self.root:
            return None
        try:
            if not stat.S_ISREG(real.stat().st_mode):
                return None
        except OSError:
            return None
        return real

    def locate(self, reported: str) -> tuple[PurePosixPath, Path] | None:
        """The first candidate of ``reported`` that exists safely: (relative, real path)."""
        for rel in candidate_paths(reported, pbx_prefixes=self.pbx_prefixes):
            real = self.resolve(rel)
            if real is not None:
                return rel, real
        return None

    def is_mappable(self, reported: str) -> bool:
        """Whether ``reported`` maps to a safe relative path at all (exists or not)."""
        return relative_recording_path(reported, pbx_prefixes=self.pbx_prefixes) is not None

    def remove(self, relative: str | PurePosixPath) -> bool:
        """Delete the file (never a symlink target outside the root); False if it was gone."""
        real = self.resolve(relative)
        if real is None:
            return False
        try:
            real.unlink()
        except FileNotFoundError:
            return False
        return True


def open_for_reading(path: Path) -> tuple[int, os.stat_result]:
    """Open a resolved recording without following a symlink: (fd, fstat); caller closes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError("not a regular file")
    return fd, st
