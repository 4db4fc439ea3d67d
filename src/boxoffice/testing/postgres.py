"""A throwaway PostgreSQL server for a test session or a benchmark.

``initdb`` in a temporary directory, a free loopback port, fsync off (unless ``durable``); as
the ``postgres`` OS user when running as root, since initdb and postgres refuse root.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_HELP = (
    "boxoffice's tests run every database test on PostgreSQL too, and start a throwaway "
    "server themselves, but no PostgreSQL server binaries (initdb, postgres) were found. "
    "Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install "
    "postgresql`), or put their directory on PATH or in BOXOFFICE_TEST_PG_BINDIR, or point "
    "BOXOFFICE_TEST_POSTGRES_URL at a server you run."
)


def find_postgres_bindir() -> Path | None:
    """Where initdb and postgres are: BOXOFFICE_TEST_PG_BINDIR, PATH, pg_config, or the
    Debian layout /usr/lib/postgresql/<version>/bin (newest first)."""
    explicit = os.environ.get("BOXOFFICE_TEST_PG_BINDIR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # a symlink: the real directory
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            output = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(output.stdout.strip()))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in debian)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workspace() -> tuple[Path, dict[str, Any], dict[str, str]]:
    """A new directory for a cluster (its sockets directory inside), how to run its
    programs (as ``postgres`` when we are root: initdb and postgres refuse root), and
    their environment."""
    directory = Path(tempfile.mkdtemp(prefix="boxoffice-pg-"))
    (directory / "sockets").mkdir()
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (directory, directory / "sockets"):
            os.chown(path, user.pw_uid, user.pw_gid)

        def demote() -> None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        run_as = {"preexec_fn": demote}
    return directory, run_as, {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster for one test session."""

    url: str  # superuser URL to the "postgres" database
    process: subprocess.Popen[bytes] | None = None
    directory: Path | None = None
    #: How to run its server again (bindir, run_as, env, durable): see :meth:`restart`.
    runs: tuple[Path, dict[str, Any], dict[str, str], bool] | None = None
    #: Stops the server if the process that started it dies first (see :func:`_reaper`).
    reaper: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, bindir: Path, *, durable: bool = False) -> PostgresServer:
        """Start a throwaway server. Tests run it with ``fsync`` off; ``durable`` keeps
        PostgreSQL's defaults (benchmarks measure what production would see)."""
        directory, run_as, env = _workspace()
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(directory / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            env=env,
            **run_as,
        )
        return cls._launch(bindir, directory, run_as, env, durable=durable)

    def start_replica(self, bindir: Path) -> PostgresServer:
        """A hot standby of this server on another port, streaming its WAL: a base backup
        (``pg_basebackup -R``: it writes the standby's connection to this one), started."""
        directory, run_as, env = _workspace()
        host, port = self._host_port()
        subprocess.run(
            [
                str(bindir / "pg_basebackup"),
                "-D",
                str(directory / "data"),
                "-h",
                host,
                "-p",
                port,
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env=env,
            **run_as,
        )
        return self._launch(bindir, directory, run_as, env, durable=False)

    @classmethod
    def _launch(
        cls,
        bindir: Path,
        directory: Path,
        run_as: dict[str, Any],
        env: dict[str, str],
        *,
        durable: bool,
    ) -> PostgresServer:
        port = free_port()
        server = cls(
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            directory=directory,
            runs=(bindir, run_as, env, durable),
        )
        server._run()
        server.reaper = _reaper(directory)
        return server

    def _run(self) -> None:
        """Start the cluster's server on its port and wait until it accepts connections."""
        assert self.directory is not None
        assert self.runs is not None
        bindir, run_as, env, durable = self.runs
        port = str(self.port)
        data, sockets = self.directory / "data", self.directory / "sockets"
        log = self.directory / "server.log"
        started_at = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    port,
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(sockets),
                    *(
                        []
                        if durable
                        else [
                            "-c",
                            "fsync=off",
                            "-c",
                            "synchronous_commit=off",
                            "-c",
                            "full_page_writes=off",
                        ]
                    ),
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=128MB",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                **run_as,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with open(log, "rb") as reading:
                reading.seek(started_at)
                if b"ready to accept" in reading.read():  # "... read-only connections" too
                    return
            time.sleep(0.05)
        output = log.read_bytes().decode(errors="replace")
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{output}")

    def restart(self, *, down: float = 0.0) -> None:
        """Stop the server (fast shutdown: connections are cut, as in a failover or a crash
        of the connection), stay down ``down`` seconds, start it again on the same port."""
        assert self.process is not None, "only a server this harness started"
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        time.sleep(down)
        self._run()

    def stop(self) -> None:
        if self.reaper is not None:
            self.reaper.kill()
            self.reaper.wait()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def socket_url(self, name: str) -> str:
        """``database_url(name)`` over the server's Unix socket instead of loopback TCP (how a
        server on the same machine is best reached: no TCP stack on either side)."""
        assert self.directory is not None, "only a server this harness started"
        return f"postgresql://postgres@/{name}?host={self.directory / 'sockets'}&port={self.port}"

    @property
    def port(self) -> int:
        """The TCP port it listens on (its Unix socket's name carries the same number)."""
        return int(self._host_port()[1])

    def _host_port(self) -> tuple[str, str]:
        host, port = self.url.split("@", 1)[1].split("/", 1)[0].split(":")
        return host, port

    def execute(self, *statements: str) -> None:
        """Run statements on the maintenance database (CREATE/DROP DATABASE need no txn)."""
        import asyncpg  # type: ignore[import-untyped]

        async def run() -> None:
            connection = await asyncpg.connect(self.url)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())


def _reaper(directory: Path) -> subprocess.Popen[bytes]:
    """A watcher that stops the server and removes its directory once this process is
    gone without stopping it (a test run killed, a crashed xdist worker): otherwise the
    server ran on, orphaned, until the machine restarted. It reads the server's pid from
    ``postmaster.pid`` when it acts, so a :meth:`PostgresServer.restart` is followed."""
    script = (
        'while kill -0 "$1" 2>/dev/null; do sleep 1; done; '
        'pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null); '
        '[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; '
        'for _ in $(seq 30); do [ -e "$2/data/postmaster.pid" ] || break; sleep 1; done; '
        'rm -rf "$2"'
    )
    return subprocess.Popen(
        ["sh", "-c", script, "boxoffice-pg-reaper", str(os.getpid()), str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the test run must not end the watcher first
    )
