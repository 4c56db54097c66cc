"""Case attachments (citizens' photos, files of intake e-mails) on disk, beside recordings.

Layout: ``<recordings_dir>/attachments/YYYY/MM/DD/<32 hex>.<ext>`` (UTC date), a random name
so nothing the citizen typed reaches the file system. The type is decided from the bytes
(magic numbers), never from the name or the Content-Type the sender claimed. Reading goes
through the same path checks as recordings (``RecordingStore._safe_relative`` rules):
plain components, inside the directory after resolving symlinks, opened with O_NOFOLLOW.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SUBDIR = "attachments"
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 3
MAX_MAIL_ATTACHMENT_BYTES = 10 * 1024 * 1024

# (magic prefix, offset of a second marker or None, extension, content type)
IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
DOCUMENT_TYPES = {"pdf": "application/pdf", "eml": "message/rfc822", "txt": "text/plain"}
_RELATIVE = re.compile(r"^attachments/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.[a-z]{3,4}$")


class NotAllowed(ValueError):
    """The file is not of an accepted type or is too large; ``str`` is Spanish."""


@dataclass(frozen=True)
class StoredFile:
    relative_path: str
    content_type: str
    size_bytes: int
    sha256: str


def sniff_image(data: bytes) -> str | None:
    """``jpg``, ``png`` or ``webp`` from the first bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def sniff_any(data: bytes) -> str | None:
    """An image type, ``pdf``, or None (an intake attachment of another type is kept as
    ``bin`` by the caller, never served inline)."""
    if image := sniff_image(data):
        return image
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


def check_photo(data: bytes) -> str:
    """The extension of an acceptable photo, or NotAllowed with a Spanish message."""
    if len(data) > MAX_PHOTO_BYTES:
        raise NotAllowed("Cada foto debe pesar como máximo 5 MB.")
    kind = sniff_image(data)
    if kind is None:
        raise NotAllowed("Solo se aceptan fotos JPEG, PNG o WebP.")
    return kind


DAMAGED = "La foto está dañada o incompleta; pruebe con otra."


def strip_metadata(data: bytes, kind: str) -> bytes:
    """The photo without EXIF, XMP, IPTC and text metadata: a phone's photo carries GPS
    coordinates, the device's serial number and sometimes the owner's name, which would
    identify the author of an anonymous denuncia. Pixels are untouched (no re-encoding).
    Raises NotAllowed for a file whose structure is broken."""
    try:
        if kind == "jpg":
            return _strip_jpeg(data)
        if kind == "png":
            return _strip_png(data)
        if kind == "webp":
            return _strip_webp(data)
    except (IndexError, ValueError):
        raise NotAllowed(DAMAGED) from None
    return data


# APP1 (Exif, XMP), APP12 (Ducky/picture info), APP13 (Photoshop IRB / IPTC), COM.
_JPEG_DROP = {0xE1, 0xEC, 0xED, 0xFE}


def _strip_jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("marker expected")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI
            out += data[i : i + 2]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            out += data[i : i + 2]
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise ValueError("bad segment length")
        segment = data[i : i + 2 + length]
        if marker == 0xDA:  # SOS: the entropy-coded image data follows, kept as is
            out += data[i:]
            return bytes(out)
        if marker not in _JPEG_DROP:
            out += segment
        i += 2 + length
    raise ValueError("no image data")


_PNG_DROP = {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"}


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if len(kind) != 4 or end > len(data):
            raise ValueError("bad chunk")
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("no IEND")


def _strip_webp(data: bytes) -> bytes:
    chunks = bytearray()
    i = 12
    while i < len(data):
        fourcc = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        end = i + 8 + size + (size & 1)
        if len(fourcc) != 4 or i + 8 + size > len(data):
            raise ValueError("bad chunk")
        chunk = bytearray(data[i:end])
        if fourcc == b"VP8X" and size >= 1:
            chunk[8] &= ~0x0C & 0xFF  # clear the EXIF and XMP flags
        if fourcc not in (b"EXIF", b"XMP "):
            chunks += chunk
        i = end
    return b"RIFF" + (len(chunks) + 4).to_bytes(4, "little") + b"WEBP" + bytes(chunks)


def store(base_dir: Path, data: bytes, extension: str, *, now: datetime) -> StoredFile:
    """Write ``data`` under a fresh random name; returns what to keep in the database."""
    content_type = (IMAGE_TYPES | DOCUMENT_TYPES).get(extension, "application/octet-stream")
    day = now.strftime("%Y/%m/%d")
    relative = f"{SUBDIR}/{day}/{secrets.token_hex(16)}.{extension}"
    path = Path(base_dir) / relative
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return StoredFile(relative, content_type, len(data), hashlib.sha256(data).hexdigest())


def open_stored(base_dir: Path, relative_path: str) -> bytes | None:
    """The bytes of a stored attachment, or None when the path is not one of ours."""
    if not _RELATIVE.match(relative_path or ""):
        return None
    root = Path(base_dir).resolve()
    real = (root / relative_path).resolve()
    if root not in real.parents:
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()
