"""Photos lose their EXIF/XMP/text metadata (GPS, device serial, owner) before storage."""

from __future__ import annotations

import struct
import zlib

import pytest

from recordings.attachments import NotAllowed, check_photo, strip_metadata

SECRET = b"GPS 8.98N 79.52W serial CAM-12345 owner Rosa"


def _jpeg() -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(SECRET)) + b"Exif\x00\x00" + SECRET
    com = b"\xff\xfe" + struct.pack(">H", 2 + len(SECRET)) + SECRET
    dqt = b"\xff\xdb" + struct.pack(">H", 4) + b"\x00\x01"
    sos = b"\xff\xda" + struct.pack(">H", 4) + b"\x01\x00" + b"\x12\x34\xff\x00\x56"
    return b"\xff\xd8" + app0 + app1 + com + dqt + sos + b"\xff\xd9"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png() -> bytes:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    text = _png_chunk(b"tEXt", b"Author\x00" + SECRET)
    exif = _png_chunk(b"eXIf", SECRET)
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + text + exif + idat + _png_chunk(b"IEND", b"")


def _webp() -> bytes:
    def chunk(fourcc: bytes, data: bytes) -> bytes:
        pad = b"\x00" if len(data) % 2 else b""
        return fourcc + struct.pack("<I", len(data)) + data + pad

    vp8x = chunk(b"VP8X", bytes([0x0C, 0, 0, 0]) + b"\x00" * 6)
    body = vp8x + chunk(b"VP8L", b"\x2f\x00\x00\x00\x00") + chunk(b"EXIF", SECRET)
    body += chunk(b"XMP ", SECRET)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize(("make", "kind"), [(_jpeg, "jpg"), (_png, "png"), (_webp, "webp")])
def test_given_a_photo_with_metadata_when_stripped_then_the_metadata_is_gone(make, kind):
    photo = make()
    assert SECRET in photo and check_photo(photo) == kind
    clean = strip_metadata(photo, kind)
    assert SECRET not in clean
    assert check_photo(clean) == kind  # still the same kind of image


def test_given_a_jpeg_then_the_image_data_is_kept_byte_for_byte():
    clean = strip_metadata(_jpeg(), "jpg")
    assert clean.startswith(b"\xff\xd8\xff\xe0") and clean.endswith(b"\x12\x34\xff\x00\x56\xff\xd9")


def test_given_a_webp_then_the_riff_size_and_flags_are_fixed():
    clean = strip_metadata(_webp(), "webp")
    assert struct.unpack("<I", clean[4:8])[0] == len(clean) - 8
    assert clean[20] & 0x0C == 0


@pytest.mark.parametrize(("data", "kind"), [(_jpeg()[:30], "jpg"), (_png()[:40], "png")])
def test_given_a_truncated_photo_then_it_is_refused_in_spanish(data, kind):
    with pytest.raises(NotAllowed, match="dañada"):
        strip_metadata(data, kind)
