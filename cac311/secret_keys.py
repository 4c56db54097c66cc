"""Secret keys kept in files outside the database (created on first start, mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_key(path: Path, *, size: int = 32) -> bytes:
    """The key in ``path``; a new random one is written there (0600) if the file is absent.

    The key must outlive restarts (hashes made with it are compared later) and must not be
    readable from the database, which is why it is a file and not a row.
    """
    try:
        data = path.read_bytes().strip()
        if len(data) >= 16:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(size).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key
