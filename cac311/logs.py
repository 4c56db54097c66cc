"""Logging set-up that keeps personal data out of tracebacks.

``hide_parameters=True`` keeps SQL parameters out of SQLAlchemy's messages, but PostgreSQL's
own error text travels inside the exception: ``DETAIL: Key (cedula)=(8-123-4567) already
exists`` or ``Failing row contains (…the whole row…)``. The formatter drops those lines from
every traceback it writes.
"""

from __future__ import annotations

import logging
import re

_SENSITIVE = re.compile(r"DETAIL:|Failing row contains|Key \(.*\)=\(", re.IGNORECASE)
REDACTED = "[línea con datos de la base de datos omitida]"


class RedactingFormatter(logging.Formatter):
    """A formatter whose tracebacks never show PostgreSQL's DETAIL lines."""

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def] # noqa: N802
        return redact(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def redact(text: str) -> str:
    return "\n".join(REDACTED if _SENSITIVE.search(line) else line for line in text.splitlines())


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
