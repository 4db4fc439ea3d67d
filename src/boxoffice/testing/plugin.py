"""boxoffice's pytest plugin, active wherever boxoffice is installed (``pytest11`` entry point).

It must never get in the way of a pytest run that has nothing to do with boxoffice: it
imports only pytest and what boxoffice itself depends on (no pytest-asyncio), it defines
fixtures and nothing else (no hooks, no options, no autouse), every fixture name starts
with ``boxoffice_``, and a fixture does its work only when a test asks for it. Async
fixtures and tests run through AnyIO's pytest plugin, which comes with AnyIO, a dependency
of boxoffice: the conformance suites mark themselves, and a plugin author's own async test
says ``@pytest.mark.anyio`` (or sets ``anyio_mode = "auto"``).

Fixtures:

- ``boxoffice_db_url`` / ``boxoffice_db``: a fresh migrated database for each test,
  parametrized over **SQLite and PostgreSQL** (``boxoffice_db_engine`` says which). The
  session starts its own PostgreSQL server and fails, never skips, without one
  (``BOXOFFICE_TEST_POSTGRES_URL`` points at a server you run instead).
- ``boxoffice_clock``: a :class:`~boxoffice.core.clock.ManualClock`.
- ``boxoffice_platform``: builds a platform from just the plugins you pass.
- ``boxoffice_client``: ``async with boxoffice_client(platform) as client:`` real HTTP through
  the app (httpx on the test's own event loop), its lifespan included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import msgspec
import pytest

from boxoffice.core.clock import Clock, ManualClock
from boxoffice.core.storage import Database, create_engine
from boxoffice.testing.databases import ENGINES, TemplateDatabases, database_name, migrate
from boxoffice.testing.postgres import POSTGRES_HELP, PostgresServer, find_postgres_bindir

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar

    from boxoffice.platform import Platform
    from boxoffice.testing.smtp import SmtpReceiver

#: ``boxoffice_platform(plugins=..., config=...)``: see :func:`boxoffice_platform`.
MakePlatform = Callable[..., "Platform"]
#: ``boxoffice_client(platform)``: an async context manager giving an HTTP test client.
ClientContext = contextlib.AbstractAsyncContextManager["httpx.AsyncClient"]
MakeClient = Callable[["Platform"], ClientContext]

TEST_SECRET_KEY = "boxoffice-test-signing-key-0123456789abcdef"  # noqa: S105 - tests only


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
def boxoffice_postgres_replica(boxoffice_postgres: PostgresServer) -> Iterator[PostgresServer]:
    """A streaming hot standby of the session's server (pg_basebackup from it), started the
    first time a test asks; with an external server, BOXOFFICE_TEST_POSTGRES_REPLICA_URL."""
    if boxoffice_postgres.process is None:
        external = os.environ.get("BOXOFFICE_TEST_POSTGRES_REPLICA_URL")
        if not external:
            pytest.fail(
                "BOXOFFICE_TEST_POSTGRES_URL is set: set BOXOFFICE_TEST_POSTGRES_REPLICA_URL "
                "to a streaming replica of it too (its superuser URL)",
                pytrace=False,
            )
        yield PostgresServer(url=external)
        return
    bindir = find_postgres_bindir()
    assert bindir is not None  # the primary started from it
    replica = boxoffice_postgres.start_replica(bindir)
    try:
        yield replica
    finally:
        replica.stop()


@pytest.fixture(scope="session")
def boxoffice_templates(boxoffice_postgres: PostgresServer) -> Iterator[TemplateDatabases]:
    """Databases migrated once per session, copied for each test."""
    directory = Path(tempfile.mkdtemp(prefix="boxoffice-test-"))
    sqlite_template = directory / "template.sqlite3"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{sqlite_template}"))
    template = database_name("template")
    boxoffice_postgres.execute(f"CREATE DATABASE {template} TEMPLATE template0")
    asyncio.run(migrate(boxoffice_postgres.database_url(template)))
    yield TemplateDatabases(directory, boxoffice_postgres, sqlite_template, template)
    with contextlib.suppress(Exception):
        boxoffice_postgres.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def boxoffice_db_engine(request: pytest.FixtureRequest) -> str:
    """Which engine this run of the test uses: "sqlite" or "postgresql"."""
    engine: str = request.param
    return engine


@pytest.fixture
def boxoffice_db_url(
    boxoffice_db_engine: str, boxoffice_templates: TemplateDatabases
) -> Iterator[str]:
    """A fresh migrated database for this test, on each engine in turn."""
    url, remove = boxoffice_templates.fresh(boxoffice_db_engine)
    yield url
    remove()


@pytest.fixture
def boxoffice_empty_db_url(
    boxoffice_db_engine: str, boxoffice_templates: TemplateDatabases
) -> Iterator[str]:
    """A fresh database with no schema at all, on each engine in turn."""
    url, remove = boxoffice_templates.fresh(boxoffice_db_engine, migrated=False)
    yield url
    remove()


@pytest.fixture
async def boxoffice_db(boxoffice_db_url: str, anyio_backend: object) -> AsyncIterator[Database]:
    """The :class:`~boxoffice.core.storage.Database` on ``boxoffice_db_url``."""
    database = Database(create_engine(boxoffice_db_url))
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def boxoffice_clock() -> ManualClock:
    """A clock that moves only when the test says so (``clock.advance(minutes=10)``)."""
    return ManualClock()


@pytest.fixture
async def boxoffice_platform(
    boxoffice_db_url: str, tmp_path: Path, boxoffice_clock: ManualClock, anyio_backend: object
) -> AsyncIterator[MakePlatform]:
    """Build a platform with just the given plugins::

        platform = boxoffice_platform(plugins=[("acmepay", acmepay_module)], config='''
            [[routing.payments]]
            providers = ["acmepay"]
        ''')

    ``config`` is the text of plugins.toml. ``entry_points=True`` loads the installed plugins
    as well (as production does); ``strict=False`` returns a platform whose configuration has
    problems instead of raising them (``platform.plugins.problems``); ``settings`` overrides
    :class:`~boxoffice.settings.Settings` fields.
    """
    from boxoffice.platform import Platform
    from boxoffice.settings import Settings

    built: list[Platform] = []

    def build(
        plugins: Sequence[tuple[str, object]] = (),
        config: str = "",
        *,
        entry_points: bool = False,
        environ: dict[str, str] | None = None,
        platform_clock: Clock | None = None,
        strict: bool = True,
        settings: dict[str, Any] | None = None,
    ) -> Platform:
        plugins_file = tmp_path / f"plugins-{len(built)}.toml"
        plugins_file.write_text(config, encoding="utf-8")
        base = Settings(
            data_dir=tmp_path / "data",
            database_url=boxoffice_db_url,
            db_pool_size=0,  # the test client runs the app on its own event loop
            secret_key=TEST_SECRET_KEY,
            public_url="https://tickets.example.test",
            plugins_file=plugins_file,
            run_dispatcher=False,
        )
        platform = Platform.build(
            msgspec.structs.replace(base, **(settings or {})),
            clock=platform_clock or boxoffice_clock,
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
def boxoffice_smtp() -> Iterator[SmtpReceiver]:
    """A real SMTP server on a loopback port (:class:`boxoffice.testing.smtp.SmtpReceiver`):
    point ``[providers.smtp]`` at ``boxoffice_smtp.port`` with ``tls = "none"`` and read
    what arrived with ``boxoffice_smtp.received()``. Needs ``aiosmtpd``."""
    from boxoffice.testing.smtp import SmtpReceiver

    with SmtpReceiver() as receiver:
        yield receiver


@contextlib.asynccontextmanager
async def app_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``async with app_client(app) as client:`` real HTTP into ``app`` with its lifespan,
    all on the caller's event loop, as in production.

    Not Litestar's ``AsyncTestClient``: that runs the lifespan (and with it the app's
    background loops) on a thread of its own, started and ended by every client. Each such
    thread ended with SQLAlchemy's greenlets on it; greenlet cleans those up later on the
    main thread, and a parallel run hung there twice, spinning in that clean-up. One loop
    means no such thread, and the background work runs where the requests run."""
    import httpx

    # Litestar's __call__ is typed with its own ASGI types; httpx's are the generic ones.
    transport = httpx.ASGITransport(app=cast(Any, app), raise_app_exceptions=False)
    lifespan = app.lifespan()
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        # Shut the app down as a server would, whatever the test raised: its exception then
        # comes out as it is, not wrapped in a group by the lifespan's task group.
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
def boxoffice_client() -> MakeClient:
    """``async with boxoffice_client(platform) as client:`` an HTTP client (httpx) into the
    platform's app, its lifespan included (:func:`app_client`); server errors come back as
    responses."""
    from boxoffice.api.app import create_app

    def open_client(
        platform: Platform,
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return app_client(create_app(platform))

    return open_client
