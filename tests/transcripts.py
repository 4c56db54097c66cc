"""Where the recorded Asterisk 22 transcripts live, and small helpers to read them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def transcript_dir() -> Path:
    """$CAC311_TRANSCRIPTS, or ../shared/asterisk next to the repository."""
    return Path(os.environ.get("CAC311_TRANSCRIPTS") or _REPO.parent / "shared" / "asterisk")


@dataclass(frozen=True)
class Chunk:
    """One recorded read or write: ``dir`` is "asterisk" or "us"; ``data`` the exact bytes."""

    t: float
    dir: str
    data: bytes


def load_chunks(name: str) -> list[Chunk]:
    """The chunks of ``NAME.jsonl`` (``name`` with or without the extension)."""
    path = transcript_dir() / (name if name.endswith(".jsonl") else f"{name}.jsonl")
    chunks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            chunks.append(Chunk(float(d["t"]), d["dir"], d["data"].encode("utf-8")))
    return chunks


def load_jsonl(name: str) -> list[dict]:
    """The rows of ``NAME.jsonl`` as dicts ``{"t": float, "dir": str, "data": str}``."""
    path = transcript_dir() / (name if name.endswith(".jsonl") else f"{name}.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
