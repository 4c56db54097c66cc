"""Mapping of Asterisk-reported recording paths, path safety, audio checks and byte ranges."""

from __future__ import annotations

import os
import wave
from pathlib import Path, PurePosixPath

import pytest

from recordings.storage import (
    NotAudio,
    RecordingStore,
    candidate_paths,
    inspect_audio,
    relative_recording_path,
    uniqueid_date,
)
from recordings.web import RangeNotSatisfiable, parse_byte_range


def write_wav(path: Path, seconds: float = 1.0, rate: int = 8000) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytes((i * 7) % 256 for i in range(int(seconds * rate) * 2))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("/var/spool/asterisk/monitor/2026/11/25/1795475111.1.wav", "2026/11/25/1795475111.1.wav"),
        ("/var/spool/asterisk/monitor/1795475111.1.wav", "1795475111.1.wav"),
        # asterisk_conf/extensions.conf: ${CAC311_RECORDINGS_DIR}/YYYY/MM/DD/${UNIQUEID}.wav
        (
            "/var/spool/asterisk/monitor/cac311/2026/11/25/1795475111.1.wav",
            "2026/11/25/1795475111.1.wav",
        ),
        ("/mnt/pbx2/rec/2026/11/25/1795475111.1.wav", "2026/11/25/1795475111.1.wav"),
        ("2026/11/25/1795475111.1.WAV", "2026/11/25/1795475111.1.WAV"),
        (
            "/var/spool/asterisk/monitor/2026/11/25/pbx1-1795475111.7.gsm",
            "2026/11/25/pbx1-1795475111.7.gsm",
        ),
    ],
)
def test_given_a_reported_path_when_mapped_then_the_relative_path_is_kept(
    reported: str, expected: str
) -> None:
    assert relative_recording_path(reported) == PurePosixPath(expected)


@pytest.mark.parametrize(
    "reported",
    [
        "",
        "/etc/passwd",
        "/var/spool/asterisk/monitor/../../../etc/passwd",
        "/var/spool/asterisk/monitor/2026/11/../../../../etc/shadow.wav",
        "../../etc/x.wav",
        "2026/11/25/../../../x.wav",
        "/var/spool/asterisk/monitor//etc/x.wav",
        "/var/spool/asterisk/monitor/2026/11/25/.hidden.wav",
        "/var/spool/asterisk/monitor/2026/11/25/1795475111.1.txt",
        "/var/spool/asterisk/monitor/2026\\..\\x.wav",
        "/var/spool/asterisk/monitor/2026/11/25/a\x00.wav",
        "/var/spool/asterisk/monitor/%2e%2e/%2e%2e/etc/x.wav",
        "/home/someone/x.wav",
        "a/b/c/d/e/1.wav",
    ],
)
def test_given_an_unsafe_or_foreign_path_when_mapped_then_nothing(reported: str) -> None:
    assert relative_recording_path(reported) is None


def test_given_a_flat_name_when_listing_candidates_then_the_uniqueid_utc_day_follows() -> None:
    # The real capture: MIXMONITOR_FILENAME=/var/spool/asterisk/monitor/1795475111.1.wav,
    # uniqueid 1795475111 = 2026-11-23 23:05:11 UTC.
    assert uniqueid_date("1795475111.1").isoformat() == "2026-11-23T23:05:11+00:00"
    assert candidate_paths("/var/spool/asterisk/monitor/1795475111.1.wav") == [
        PurePosixPath("1795475111.1.wav"),
        PurePosixPath("2026/11/23/1795475111.1.wav"),
        PurePosixPath("2026/11/24/1795475111.1.wav"),
    ]
    assert candidate_paths("/var/spool/asterisk/monitor/2026/11/25/1795475111.1.wav") == [
        PurePosixPath("2026/11/25/1795475111.1.wav")
    ]


def test_given_a_symlink_escaping_the_root_when_resolved_then_nothing(tmp_path: Path) -> None:
    root, outside = tmp_path / "rec", tmp_path / "secret"
    write_wav(outside / "x.wav")
    (root / "2026/11/25").mkdir(parents=True)
    (root / "2026/11/25/1.1.wav").symlink_to(outside / "x.wav")
    (root / "2026/11/26").symlink_to(outside, target_is_directory=True)
    write_wav(root / "2026/11/25/2.1.wav")
    store = RecordingStore(root)
    assert store.resolve("2026/11/25/1.1.wav") is None
    assert store.resolve("2026/11/26/x.wav") is None
    assert store.resolve("2026/11/25/2.1.wav") == (root / "2026/11/25/2.1.wav").resolve()
    assert store.remove("2026/11/25/1.1.wav") is False
    assert (outside / "x.wav").exists()


def test_given_real_wav_when_inspected_then_duration_size_and_checksum(tmp_path: Path) -> None:
    data = write_wav(tmp_path / "a.wav", seconds=2.5)
    info = inspect_audio(tmp_path / "a.wav")
    assert (info.audio_format, info.duration_seconds, info.size_bytes) == ("wav", 2.5, len(data))
    assert info.content_type == "audio/wav"
    import hashlib

    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_given_non_audio_when_inspected_then_not_audio(tmp_path: Path) -> None:
    (tmp_path / "fake.wav").write_bytes(b"#!/bin/sh\necho not audio\n" * 10)
    with pytest.raises(NotAudio):
        inspect_audio(tmp_path / "fake.wav")
    (tmp_path / "bad.gsm").write_bytes(b"\x00" * 66)
    with pytest.raises(NotAudio):
        inspect_audio(tmp_path / "bad.gsm")
    (tmp_path / "ok.gsm").write_bytes((b"\xd0" + b"\x00" * 32) * 50)
    assert inspect_audio(tmp_path / "ok.gsm").duration_seconds == 1.0
    os.symlink(tmp_path / "a.wav", tmp_path / "link.wav")
    write_wav(tmp_path / "a.wav")
    with pytest.raises(OSError):
        inspect_audio(tmp_path / "link.wav")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-", (0, 999)),
        ("bytes=0-99", (0, 99)),
        ("bytes=500-2000", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("BYTES = 10-19", (10, 19)),
        ("items=0-5", None),
        ("bytes=0-1,5-6", None),
    ],
)
def test_given_a_range_header_when_parsed_then_one_inclusive_range(
    header: str | None, expected: tuple[int, int] | None
) -> None:
    assert parse_byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=x-"])
def test_given_an_unsatisfiable_range_when_parsed_then_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_byte_range(header, 1000)
