"""The ``boxoffice`` command: serve | migrate | demo | worker | grant-admin | journal … |
plugins list|check | translations."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from boxoffice import __version__, journal_cli
from boxoffice.core.catalog.service import stranded_events
from boxoffice.core.clock import SystemClock
from boxoffice.core.compliance.region import RegionLookup
from boxoffice.core.errors import BoxofficeError
from boxoffice.core.maintenance import run_maintenance
from boxoffice.core.notify.rendering import (
    FULLY_TRANSLATED,
    language_tag,
    messages_in_templates,
    missing_translations,
)
from boxoffice.core.storage import Database, create_engine
from boxoffice.logs import configure_logging
from boxoffice.migrations import (
    ensure_migrated,
    head_revision,
    is_empty,
    upgrade,
    wait_until_migrated,
)
from boxoffice.platform import STOP_TIMEOUT_SECONDS, Platform, load_plugin_set
from boxoffice.plugins.manager import PluginSet, warnings
from boxoffice.plugins.routing import Router
from boxoffice.settings import PREFIX, Settings


def _settings(args: argparse.Namespace) -> Settings:
    """Flags win over BOXOFFICE_* variables; they are written back to the environment so
    that server worker processes (which read only the environment) see the same."""
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "database_url": getattr(args, "database_url", None),
        "plugins_file": getattr(args, "plugins_file", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
    }
    for key, value in overrides.items():
        if value is not None:
            os.environ[PREFIX + key.upper()] = str(value)
    return Settings.from_env()


def _fail(message: str, code: int = 1) -> int:
    print(f"boxoffice: {message}", file=sys.stderr)
    return code


async def _prepare(settings: Settings, *, demo: bool) -> str:
    """Check configuration and schema before serving; migrate a brand-new SQLite file."""
    platform = Platform.build(settings)
    try:
        db = platform.db
        if db.dialect == "sqlite" and await is_empty(db):
            await upgrade(db)
            note = f"created a new database at {db.engine.url.database}"
        else:
            await ensure_migrated(db)
            note = "database schema is current"
        if demo:
            from boxoffice.demo import load_demo

            created = await load_demo(platform)
            await platform.dispatcher.run_until_idle()
            note += "; demo data " + ("loaded" if created else "already present")
        return note
    finally:
        await platform.close()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    note = asyncio.run(_prepare(settings, demo=args.demo))
    workers = args.workers
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        print(
            f"boxoffice: serving with one process, not {workers}: SQLite takes one process "
            "per database file (its single writer groups the writes that arrive together; "
            "more processes only take turns at the file lock, slower for writes, and one "
            "process answers thousands of reads a second from its read cache). For several "
            "processes use PostgreSQL (docs/ops.md).",
            file=sys.stderr,
        )
        workers = 1
    worker: subprocess.Popen[bytes] | None = None
    if workers > 1:  # the processes add up their metrics in a shared directory
        from boxoffice import metrics

        metrics.use_directory(Path(settings.data_dir) / "metrics")
        # Background work runs once, in a `boxoffice worker` beside the API processes (this
        # command starts it unless ops run their own: BOXOFFICE_RUN_DISPATCHER=false).
        if settings.run_dispatcher:
            worker = subprocess.Popen([sys.executable, "-m", "boxoffice", "worker"])
        os.environ[PREFIX + "RUN_DISPATCHER"] = "false"
    print(f"boxoffice {__version__}: {note}", file=sys.stderr)
    print(
        f"boxoffice: serving on http://{settings.host}:{settings.port}  "
        f"(API /api/v1, docs /schema, health /health/ready)",
        file=sys.stderr,
    )
    try:
        _run_uvicorn(settings, workers)
    finally:
        if worker is not None:
            _stop(worker, settings.shutdown_timeout + STOP_TIMEOUT_SECONDS)
    return 0


def _run_uvicorn(settings: Settings, workers: int) -> None:
    import uvicorn

    from boxoffice.api.serving import NoDelayHttpToolsProtocol

    uvicorn.run(
        "boxoffice.api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        http=NoDelayHttpToolsProtocol,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        timeout_worker_healthcheck=settings.worker_start_timeout,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM ``process`` (it stops its work cleanly) and wait; SIGKILL after ``timeout``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _migrate(settings: Settings) -> str:
    db = Database(create_engine(settings.resolved_database_url))
    try:
        await upgrade(db)
    finally:
        await db.close()
    return head_revision()


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    revision = asyncio.run(_migrate(settings))
    print(f"database at revision {revision}: {_display_url(settings)}")
    return 0


def _display_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


async def _demo(settings: Settings) -> bool:
    from boxoffice.demo import load_demo

    platform = Platform.build(settings)
    try:
        await ensure_migrated(platform.db)
        created = await load_demo(platform)
        await platform.dispatcher.run_until_idle()
        return created
    finally:
        await platform.close()


def cmd_demo(args: argparse.Namespace) -> int:
    created = asyncio.run(_demo(_settings(args)))
    print("demo data loaded" if created else "demo data already present")
    return 0


async def _worker(settings: Settings, once: bool) -> int:
    platform = Platform.build(settings)
    try:
        await wait_until_migrated(platform.db, settings.worker_start_timeout)
        if once:
            await run_maintenance(platform.db, platform.clock, platform.router.enabled_regions())
            return await platform.dispatcher.run_until_idle()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, stop.set)
        print(f"{WORKER_RUNNING} (SIGTERM or Ctrl-C stops it)", file=sys.stderr, flush=True)
        await platform.run_background_work(stop)
        return 0
    finally:
        await platform.close()


#: What ``boxoffice worker`` says on stderr once it runs and a signal stops it cleanly.
WORKER_RUNNING = "boxoffice worker: running"


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    delivered = asyncio.run(_worker(settings, args.once))
    if args.once:
        print(f"delivered {delivered} journal entries")
    return 0


async def _grant_admin(settings: Settings, email: str) -> bool:
    from boxoffice.core.identity.admin import grant_admin

    db = Database(create_engine(settings.resolved_database_url))
    try:
        await ensure_migrated(db)
        async with db.transaction() as session:
            return await grant_admin(session, SystemClock(), email) is not None
    finally:
        await db.close()


def cmd_grant_admin(args: argparse.Namespace) -> int:
    if not asyncio.run(_grant_admin(_settings(args), args.email)):
        return _fail(f"no account with the e-mail address {args.email}: register it first")
    print(f"{args.email} is now a platform admin")
    return 0


def _plugin_set(args: argparse.Namespace, *, file_required: bool) -> tuple[PluginSet, Settings]:
    settings = _settings(args)
    db = Database(create_engine(settings.resolved_database_url))  # not connected: lazy
    plugins = load_plugin_set(settings, SystemClock(), database=db, file_required=file_required)
    return plugins, settings


def cmd_plugins_list(args: argparse.Namespace) -> int:
    """Every installed plugin, enabled or not; a broken one (it failed to load, or its
    options are not valid: an unset ``env:`` secret...) with its reason, and exit 1."""
    plugins, _ = _plugin_set(args, file_required=False)
    for info in plugins.info:
        state = "enabled" if info.enabled else "disabled"
        if info.error:
            state = "broken"
        print(f"{info.name}  [{state}]  from {info.distribution}  ({info.module})")
        if info.hooks:
            print(f"    hooks:     {', '.join(info.hooks)}")
        if info.providers:
            print(f"    providers: {', '.join(info.providers)}")
        if info.error:
            print(f"    error:     {info.error}")
    broken = [info.name for info in plugins.info if info.error]
    if broken:
        print(f"broken: {', '.join(broken)} (see `boxoffice plugins check`)", file=sys.stderr)
        return 1
    return 0


def cmd_plugins_check(args: argparse.Namespace) -> int:
    """plugins.toml against what is installed, then the database's events against the
    enabled region packs (an event whose pack is off can be neither published nor sold)."""
    plugins, settings = _plugin_set(args, file_required=True)
    if plugins.problems:
        print(f"{settings.plugins_file}: {len(plugins.problems)} problem(s):", file=sys.stderr)
        for problem in plugins.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    providers = plugins.providers
    router = Router(plugins.loaded.config, providers)
    stranded = asyncio.run(_stranded_events(settings, router.region_or_none)) or {}
    if stranded:
        print(f"{settings.plugins_file}: {len(stranded)} problem(s):", file=sys.stderr)
    for reason, slugs in stranded.items():
        shown = ", ".join(slugs[:5]) + (f" and {len(slugs) - 5} more" if len(slugs) > 5 else "")
        print(
            f"  {len(slugs)} event(s) not yet held cannot be published or sold ({shown}): {reason}",
            file=sys.stderr,
        )
    if stranded:
        return 1
    print(f"{settings.plugins_file}: OK")
    found = warnings(plugins.loaded, settings.resolved_public_url, router.enabled_regions())
    for warning in found:
        print(f"  warning: {warning}", file=sys.stderr)
    for kind in ("payment", "notification", "region", "search"):
        ids = sorted(providers.by_kind(kind))
        print(f"  {kind:<12} {', '.join(ids) or '-'}")
    return 0


async def _stranded_events(
    settings: Settings, regions: RegionLookup
) -> dict[str, list[str]] | None:
    """``None`` when the database cannot be read yet (not created, not migrated)."""
    db = Database(create_engine(settings.resolved_database_url, pool_size=0))
    try:
        await ensure_migrated(db)
        async with db.read() as session:
            return await stranded_events(session, regions)
    except (BoxofficeError, OSError, SQLAlchemyError) as error:
        detail = error.detail if isinstance(error, BoxofficeError) else type(error).__name__
        print(f"events not checked against the region packs: {detail}", file=sys.stderr)
        return None
    finally:
        await db.close()


def cmd_translations(args: argparse.Namespace) -> int:
    """Each catalog's coverage, and the strings a partial one shows in English (what a
    translator adds); exit 1 if a language meant to be whole lacks any."""
    from boxoffice.api.app import create_app  # noqa: F401 - every error type, hence every title
    from boxoffice.api.problems import problem_titles

    titles = problem_titles()
    total = len(set(messages_in_templates()) | set(titles))
    missing = missing_translations(titles)
    chosen = [args.locale] if args.locale else sorted(missing)
    incomplete = False
    for locale in chosen:
        if locale not in missing:
            return _fail(f"no catalog for {locale!r} (known: {', '.join(sorted(missing))})", 2)
        lacking = missing[locale]
        whole = locale in FULLY_TRANSLATED
        incomplete |= whole and bool(lacking)
        kind = "complete" if whole else "partial"
        print(f"{language_tag(locale)}: {total - len(lacking)}/{total} translated ({kind})")
        if args.missing:
            for text in lacking:
                print(f"  missing: {text}")
    return 1 if incomplete else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="boxoffice", description=__doc__)
    parser.add_argument("--version", action="version", version=f"boxoffice {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data directory (BOXOFFICE_DATA_DIR)")
    common.add_argument(
        "--database-url", help="sqlite:///PATH or postgresql://... (BOXOFFICE_DATABASE_URL)"
    )
    common.add_argument("--plugins-file", type=Path, help="plugins.toml (BOXOFFICE_PLUGINS_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="start the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument("--demo", action="store_true", help="load demo data if absent")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", parents=[common], help="bring the schema up to date").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("demo", parents=[common], help="load demo data").set_defaults(func=cmd_demo)
    worker = sub.add_parser("worker", parents=[common], help="run the journal dispatcher")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.set_defaults(func=cmd_worker)

    grant = sub.add_parser("grant-admin", parents=[common], help="make an account platform admin")
    grant.add_argument("email")
    grant.set_defaults(func=cmd_grant_admin)

    translations = sub.add_parser(
        "translations", help="each language's catalog: what is translated, what is missing"
    )
    translations.add_argument("locale", nargs="?", help="one catalog (pt_BR, ja, ...)")
    translations.add_argument(
        "--missing", action="store_true", help="list the strings each catalog lacks"
    )
    translations.set_defaults(func=cmd_translations)

    journal_cli.add_commands(sub, common, _settings)

    plugins = sub.add_parser("plugins", help="inspect plugins").add_subparsers(
        dest="plugins_command", required=True
    )
    plugins.add_parser(
        "list", parents=[common], help="each plugin, its hooks and origin"
    ).set_defaults(func=cmd_plugins_list)
    plugins.add_parser("check", parents=[common], help="validate plugins.toml").set_defaults(
        func=cmd_plugins_check
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BoxofficeError as error:
        return _fail(error.detail)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
