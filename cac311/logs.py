"""Logging set-up that keeps personal data out of tracebacks.

``hide_parameters=True`` keeps SQL parameters out of SQLAlchemy's messages, but PostgreSQL's
own error text travels inside the exception: ``DETAIL: Key (cedula)=(8-123-4567) already
exists`` or ``Failing row contains (…the whole row…)``. The formatter drops those lines from
every traceback it writes.

Two more leaks (issue 15, finding 10): asyncpg repeats the value it could not encode
(``invalid input for query argument $1: '8-123-4567' (...)``), and aiohttp's "Error handling
request" entries echo the raw request line and header (``b'GET /ciudadanos?q=… HTTP/1.1'``,
``b'Cookie: cac311_sesion=…'``, ``bytearray(b'/ciudadanos?q=…')``). The value after the
argument number, every echoed raw line, and the query string of any logged path are cut.
"""

from __future__ import annotations

import logging
import re

_SENSITIVE = re.compile(r"DETAIL:|Failing row contains|Key \(.*\)=\(", re.IGNORECASE)
REDACTED = "[línea con datos de la base de datos omitida]"
# aiohttp echoes raw bytes of the request (request line, a header with its cookie).
_RAW_ECHO = re.compile(r"""^\s*(?:b['"]|.*\bbytearray\(b['"]|.*reading: b['"])""")
RAW_REDACTED = "    [línea de la solicitud omitida]"
_QUERY_ARGUMENT = re.compile(r"(invalid input for query argument \$\d+):.*", re.IGNORECASE)
# A path with a query string (/ciudadanos?q=8-123-4567): keep the path, drop the query.
_PATH_QUERY = re.compile(r"""(/[\w\-./%]*)\?(?!\[consulta omitida\])[^\s"'<>]+""")


class RedactingFormatter(logging.Formatter):
    """A formatter whose tracebacks never show PostgreSQL's DETAIL lines."""

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def] # noqa: N802
        return redact(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def redact(text: str) -> str:
    return "\n".join(_redact_line(line) for line in text.splitlines())


def _redact_line(line: str) -> str:
    if _SENSITIVE.search(line):
        return REDACTED
    if _RAW_ECHO.search(line):
        return RAW_REDACTED
    line = _QUERY_ARGUMENT.sub(r"\1: [valor omitido]", line)
    return _PATH_QUERY.sub(r"\1?[consulta omitida]", line)


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
