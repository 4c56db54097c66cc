"""Call recordings: what we verified about each file, and who listened to which one.

``recordings`` holds one row per call whose recording was looked for: the path relative to
the recordings directory, duration, size and SHA-256 of the file, when it was checked, whether
it was missing, and when retention purged it (``calls.recording_path`` is kept as Asterisk
reported it). ``recording_access_log`` is append-only (a trigger refuses UPDATE, DELETE and
TRUNCATE): one row per playback session or download.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class RecordingRow(CreatedAt, Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    relative_path: Mapped[str | None] = mapped_column(Text)
    audio_format: Mapped[str | None] = mapped_column(String(8))  # wav | gsm
    duration_seconds: Mapped[float | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime]
    missing: Mapped[bool] = mapped_column(default=False)
    # not_found | not_audio | unsafe_path | checksum_changed (None when the file is fine)
    problem: Mapped[str | None] = mapped_column(String(20))
    purged_at: Mapped[datetime | None]


class RecordingAccessRow(Base):
    """Append-only: a trigger in migration 0002_recordings refuses UPDATE and DELETE."""

    __tablename__ = "recording_access_log"
    __table_args__ = (
        CheckConstraint("action IN ('play','download')", name="action"),
        Index("ix_recording_access_log_at", "at"),
        Index("ix_recording_access_log_call_id", "call_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(12))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"))
    action: Mapped[str] = mapped_column(String(10))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
