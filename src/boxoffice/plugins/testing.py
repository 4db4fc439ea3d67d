"""The plugin test harness: a pytest plugin, active wherever boxoffice is installed.

It gives plugin authors (and boxoffice's own suite) the same fixtures:

- ``db_url`` / ``db``: a fresh, migrated database for each test, parametrized over **SQLite
  and PostgreSQL**. The PostgreSQL server is started by the test session itself (initdb in
  a temporary directory, a free loopback port, fsync off; as the ``postgres`` OS user when
  running as root) and stopped at the end. It is never skipped: without PostgreSQL binaries
  the session fails and says how to get them. ``BOXOFFICE_TEST_POSTGRES_URL`` points the
  suite at an existing server instead (a superuser URL; it creates and drops databases).
- ``make_platform``: a platform built from just the plugins you pass and a plugins.toml text.
- ``make_client``: an HTTP test client (real HTTP semantics through Litestar) for a platform.
- Conformance suites, one per provider kind: subclass ``PaymentGatewayConformance`` (and
  the others) in a test module and provide the provider as a fixture; every bundled
  provider passes them unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from boxoffice.core.clock import Clock, ManualClock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.media.store import MediaStore
from boxoffice.core.money import Money
from boxoffice.core.notify.channel import Message, NotificationChannel
from boxoffice.core.payments.gateway import (
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
)
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.search.backend import SearchBackend, SearchDocument
from boxoffice.core.storage import Database, create_engine
from boxoffice.migrations import upgrade
from boxoffice.platform import Platform
from boxoffice.settings import Settings

ENGINES = ("sqlite", "postgresql")
POSTGRES_HELP = (
    "boxoffice's tests run every database test on PostgreSQL too, and start a throwaway "
    "server themselves, but no PostgreSQL server binaries (initdb, postgres) were found. "
    "Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install "
    "postgresql`), or put their directory on PATH or in BOXOFFICE_TEST_PG_BINDIR, or point "
    "BOXOFFICE_TEST_POSTGRES_URL at a server you run."
)


# --------------------------------------------------------------------------- PostgreSQL


def find_postgres_bindir() -> Path | None:
    """Where initdb and postgres are: BOXOFFICE_TEST_PG_BINDIR, PATH, pg_config, or the
    Debian layout /usr/lib/postgresql/<version>/bin (newest first)."""
    explicit = os.environ.get("BOXOFFICE_TEST_PG_BINDIR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster for one test session."""

    url: str  # superuser URL to the "postgres" database
    process: subprocess.Popen[bytes] | None = None
    directory: Path | None = None

    @classmethod
    def start(cls, bindir: Path, *, durable: bool = False) -> PostgresServer:
        """Start a throwaway server. Tests run it with ``fsync`` off; ``durable`` keeps
        PostgreSQL's defaults (benchmarks measure what production would see)."""
        directory = Path(tempfile.mkdtemp(prefix="boxoffice-pg-"))
        data, sockets, log = directory / "data", directory / "sockets", directory / "server.log"
        sockets.mkdir()
        run_as: dict[str, Any] = {}
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            user = pwd.getpwnam("postgres")
            for path in (directory, sockets):
                os.chown(path, user.pw_uid, user.pw_gid)

            def demote() -> None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

            run_as = {"preexec_fn": demote}
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
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
        port = _free_port()
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
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
        server = cls(
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            process=process,
            directory=directory,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if b"ready to accept connections" in log.read_bytes():
                return server
            time.sleep(0.05)
        output = log.read_bytes().decode(errors="replace")
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{output}")

    def stop(self) -> None:
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


async def _migrate(url: str) -> None:
    db = Database(create_engine(url, pool_size=1, max_overflow=0))
    try:
        await upgrade(db)
    finally:
        await db.close()


_names = itertools.count()


def _database_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:6]}"


@dataclass
class TemplateDatabases:
    """Migrated once per session; each test gets a copy (a file copy, or CREATE DATABASE
    ... TEMPLATE), which is much faster than migrating every time."""

    directory: Path
    postgres: PostgresServer
    sqlite_template: Path
    postgres_template: str

    def fresh(self, engine: str, *, migrated: bool = True) -> tuple[str, Callable[[], None]]:
        """A new database URL and the function that removes it."""
        if engine == "sqlite":
            path = self.directory / f"{_database_name('test')}.sqlite3"
            if migrated:
                shutil.copyfile(self.sqlite_template, path)

            def remove_file() -> None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)

            return f"sqlite+aiosqlite:///{path}", remove_file
        name = _database_name("test")
        template = f" TEMPLATE {self.postgres_template}" if migrated else " TEMPLATE template0"
        self.postgres.execute(f"CREATE DATABASE {name}{template}")

        def drop() -> None:
            self.postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

        return self.postgres.database_url(name), drop


@pytest.fixture(scope="session")
def boxoffice_postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started here, or BOXOFFICE_TEST_POSTGRES_URL)."""
    external = os.environ.get("BOXOFFICE_TEST_POSTGRES_URL")
    if external:
        yield PostgresServer(url=external)
        return
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(POSTGRES_HELP, pytrace=False)
    server = PostgresServer.start(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def boxoffice_templates(boxoffice_postgres: PostgresServer) -> Iterator[TemplateDatabases]:
    directory = Path(tempfile.mkdtemp(prefix="boxoffice-test-"))
    sqlite_template = directory / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{sqlite_template}"))
    template = _database_name("template")
    boxoffice_postgres.execute(f"CREATE DATABASE {template} TEMPLATE template0")
    asyncio.run(_migrate(boxoffice_postgres.database_url(template)))
    yield TemplateDatabases(directory, boxoffice_postgres, sqlite_template, template)
    with contextlib.suppress(Exception):
        boxoffice_postgres.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def db_engine(request: pytest.FixtureRequest) -> str:
    """Which engine this run of the test uses: "sqlite" or "postgresql"."""
    engine: str = request.param
    return engine


@pytest.fixture
def db_url(db_engine: str, boxoffice_templates: TemplateDatabases) -> Iterator[str]:
    """A fresh migrated database for this test, on each engine in turn."""
    url, remove = boxoffice_templates.fresh(db_engine)
    yield url
    remove()


@pytest.fixture
def empty_db_url(db_engine: str, boxoffice_templates: TemplateDatabases) -> Iterator[str]:
    """A fresh database with no schema at all, on each engine in turn."""
    url, remove = boxoffice_templates.fresh(db_engine, migrated=False)
    yield url
    remove()


@pytest_asyncio.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(db_url))
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says so (``clock.advance(minutes=10)``)."""
    return ManualClock()


# ------------------------------------------------------------------ platforms and clients

MakePlatform = Callable[..., Platform]


@pytest_asyncio.fixture
async def make_platform(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[MakePlatform]:
    """Build a platform with just the given plugins::

        platform = make_platform(plugins=[("acmepay", acmepay_module)], config='''
            [[routing.payments]]
            providers = ["acmepay"]
        ''')

    ``entry_points=True`` loads the installed plugins as well (as production does).
    """
    built: list[Platform] = []

    def build(
        plugins: Sequence[tuple[str, object]] = (),
        config: str = "",
        *,
        entry_points: bool = False,
        environ: dict[str, str] | None = None,
        platform_clock: Clock | None = None,
        strict: bool = True,
    ) -> Platform:
        plugins_file = tmp_path / f"plugins-{len(built)}.toml"
        plugins_file.write_text(config, encoding="utf-8")
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=db_url,
            db_pool_size=0,  # the test client runs the app on its own event loop
            secret_key="boxoffice-test-signing-key-0123456789abcdef",  # noqa: S106 - tests only
            public_url="https://tickets.example.test",
            plugins_file=plugins_file,
            run_dispatcher=False,
        )
        platform = Platform.build(
            settings,
            clock=platform_clock or clock,
            extra_plugins=plugins,
            use_entry_points=entry_points,
            environ=environ if environ is not None else dict(os.environ),
            strict=strict,
        )
        built.append(platform)
        return platform

    yield build
    for platform in built:
        await platform.close()


@pytest.fixture
def make_client() -> Callable[
    [Platform], contextlib.AbstractAsyncContextManager[AsyncTestClient[Any]]
]:
    """``async with make_client(platform) as client:`` an HTTP client with the app's lifespan."""
    from boxoffice.api.app import create_app

    @contextlib.asynccontextmanager
    async def open_client(platform: Platform) -> AsyncIterator[AsyncTestClient[Any]]:
        async with AsyncTestClient(app=create_app(platform), raise_server_exceptions=False) as c:
            yield c

    return open_client


# ------------------------------------------------------------------ real server processes


class ServerProcesses:
    """``count`` real ``boxoffice serve`` processes on free loopback ports, sharing one
    database: for tests that several stateless API processes behave as one, and for
    benchmarks. ``env`` holds the ``BOXOFFICE_*`` settings (database URL, data directory,
    plugins file, secret key)::

        with ServerProcesses(3, env) as urls:
            ...  # send requests to any of urls; servers.kill(0) stops one with SIGKILL
    """

    def __init__(self, count: int, env: dict[str, str], *, workers: int = 1) -> None:
        self.count, self.workers = count, workers
        self.env = {**os.environ, "BOXOFFICE_LOG_LEVEL": "WARNING", **env}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        self._logs: list[Any] = []

    def __enter__(self) -> list[str]:
        import sys

        import httpx

        for _ in range(self.count):
            port = _free_port()
            log = tempfile.TemporaryFile()
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "boxoffice",
                        "serve",
                        "--port",
                        str(port),
                        "--workers",
                        str(self.workers),
                    ],
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for process, url, log in zip(self.processes, self.urls, self._logs, strict=True):
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    error = log.read().decode(errors="replace")
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"boxoffice serve exited at start-up: {error[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"boxoffice serve at {url} did not become ready")
                time.sleep(0.1)
        return self.urls

    def pids(self) -> list[int]:
        """Every server process, uvicorn's worker processes included."""
        found = []
        for process in self.processes:
            found.append(process.pid)
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            if children.exists():
                found.extend(int(pid) for pid in children.read_text().split())
        return found

    def kill(self, index: int) -> None:
        """Stop one server at once (SIGKILL): whatever it was doing is cut off mid-request."""
        self.processes[index].kill()
        self.processes[index].wait(timeout=10)

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self._logs:
            log.close()


# ------------------------------------------------------------------ conformance suites


async def _healthy(provider: Any) -> None:
    health = await provider.health()
    assert isinstance(health, ProviderHealth)
    assert health.state in set(HealthState)


class PaymentGatewayConformance:
    """Every payment gateway passes these. Provide a ``gateway`` fixture in a subclass and,
    if it cannot take EUR, a ``currency`` fixture."""

    @pytest.fixture
    def currency(self) -> str:
        return "EUR"

    def test_satisfies_protocol(self, gateway: PaymentGateway) -> None:
        assert isinstance(gateway, PaymentGateway)
        assert gateway.id
        assert gateway.id == gateway.id.strip().lower()
        assert gateway.currencies is None or all(len(c) == 3 for c in gateway.currencies)

    async def test_health(self, gateway: PaymentGateway) -> None:
        await _healthy(gateway)

    async def test_create_payment_is_idempotent(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        request = PaymentRequest(
            payment_id="pay_conformance_1",
            order_reference="ORDER-1",
            amount=Money(1500, currency),
            idempotency_key="idem-1",
        )
        first = await gateway.create_payment(request)
        again = await gateway.create_payment(request)
        assert first.status in set(PaymentStatus)
        assert first.provider_reference, "a payment needs a provider reference"
        assert again.provider_reference == first.provider_reference

    async def test_webhook_garbage_is_rejected_not_crashing(self, gateway: PaymentGateway) -> None:
        from boxoffice.core.errors import BoxofficeError

        try:
            event = await gateway.parse_webhook({"content-type": "application/json"}, b"\x00{")
        except BoxofficeError:
            return
        assert event is None


class NotificationChannelConformance:
    """Provide a ``channel`` fixture; ``delivered(message)`` may be overridden to look at
    what really arrived (the SMTP test reads the receiving server's mailbox)."""

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        return True

    def test_satisfies_protocol(self, channel: NotificationChannel) -> None:
        assert isinstance(channel, NotificationChannel)
        assert channel.kinds

    async def test_health(self, channel: NotificationChannel) -> None:
        await _healthy(channel)

    async def test_send(self, channel: NotificationChannel) -> None:
        kind = sorted(channel.kinds)[0]
        message = Message(
            message_id="msg-conformance-1",
            kind=kind,
            to=_recipient(kind),
            subject="Your tickets",
            text="See you there! Ünïcödé ✓",
        )
        result = await channel.send(message)
        assert result.delivered, result.detail
        assert await self.delivered(channel, message)


def _recipient(kind: str) -> str:
    return "+4915112345678" if kind == "sms" else "buyer@example.org"


class SearchBackendConformance:
    """Provide a ``backend`` fixture (built on the ``db`` fixture if it needs a database)."""

    def test_satisfies_protocol(self, backend: SearchBackend) -> None:
        assert isinstance(backend, SearchBackend)

    async def test_health(self, backend: SearchBackend) -> None:
        await _healthy(backend)

    async def test_index_search_replace_remove(self, backend: SearchBackend) -> None:
        await backend.index(
            [
                SearchDocument(
                    kind="event",
                    id="a",
                    title="Jazz night at the harbour",
                    body="Live quartet",
                    tags=("music",),
                ),
                SearchDocument(
                    kind="event",
                    id="b",
                    title="Chess tournament",
                    body="A night of jazz-free concentration",
                ),
                SearchDocument(kind="note", id="c", title="Jazz", body="other kind"),
            ]
        )
        hits = await backend.search("event", "jazz")
        assert [h.id for h in hits][:2] == ["a", "b"], "title matches rank first"
        assert "c" not in [h.id for h in hits], "kinds are separate"
        assert [h.id for h in await backend.search("event", "harb")] == ["a"], "prefix match"
        await backend.index([SearchDocument(kind="event", id="a", title="Opera gala")])
        assert [h.id for h in await backend.search("event", "opera")] == ["a"]
        assert "a" not in [h.id for h in await backend.search("event", "harbour")]
        await backend.remove("event", ["a", "never-indexed"])
        assert await backend.search("event", "opera") == []

    @pytest.mark.parametrize(
        "text", ['"', "AND OR NOT", "*", "a:b", "(((", "'; DROP TABLE x; --", "", "   ", "∑∂"]
    )
    async def test_any_text_is_a_valid_query(self, backend: SearchBackend, text: str) -> None:
        hits = await backend.search("event", text)
        assert isinstance(hits, list)


class MediaStoreConformance:
    """Provide a ``media_store`` fixture; ``stored(store, key)`` returns what is kept under
    ``key`` (``None`` when nothing is). By default it fetches ``store.url(key)`` over HTTP, as a
    browser would; override it for a store whose URLs are served by the API itself."""

    async def stored(self, store: MediaStore, key: str) -> bytes | None:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(store.url(key))
        return response.content if response.status_code == 200 else None

    def test_satisfies_protocol(self, media_store: MediaStore) -> None:
        assert isinstance(media_store, MediaStore)

    async def test_health(self, media_store: MediaStore) -> None:
        await _healthy(media_store)

    async def test_put_replace_delete(self, media_store: MediaStore) -> None:
        key = "events/conformance/abc123-full.webp"
        await media_store.put(key, b"RIFF first", "image/webp")
        assert await self.stored(media_store, key) == b"RIFF first"
        await media_store.put(key, b"RIFF second", "image/webp")
        assert await self.stored(media_store, key) == b"RIFF second"
        await media_store.delete(key)
        assert await self.stored(media_store, key) is None
        await media_store.delete(key)  # deleting an absent key is not an error

    @pytest.mark.parametrize("key", ["../escape.webp", "/absolute.webp", "a/../../b", "UPPER"])
    async def test_unsafe_keys_are_refused(self, media_store: MediaStore, key: str) -> None:
        with pytest.raises(ValueError, match="unsafe"):
            await media_store.put(key, b"x", "image/webp")


class ComplianceRegionConformance:
    """Provide a ``region`` fixture."""

    def test_satisfies_protocol(self, region: ComplianceRegion) -> None:
        assert isinstance(region, ComplianceRegion)
        assert region.countries
        assert all(len(c) == 2 and c.isupper() for c in region.countries)

    def test_every_country_has_a_standard_rate(self, region: ComplianceRegion) -> None:
        today = date(2026, 6, 1)
        for country in sorted(region.countries):
            rate = region.tax_rate(country, today)
            assert rate is not None, country
            assert 0 <= rate.percent < 100

    def test_unknown_country_has_no_rate(self, region: ComplianceRegion) -> None:
        assert region.tax_rate("XX", date(2026, 6, 1)) is None


__all__ = [
    "ComplianceRegionConformance",
    "MediaStoreConformance",
    "NotificationChannelConformance",
    "PaymentGatewayConformance",
    "PostgresServer",
    "SearchBackendConformance",
    "ServerProcesses",
    "TemplateDatabases",
    "find_postgres_bindir",
]
