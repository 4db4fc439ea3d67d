"""The command line: migrate, demo, serve's start-up checks, plugins list/check."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from boxoffice import cli
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import ManualClock
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.core.storage import Database, create_engine
from boxoffice.migrations import current_revision, downgrade, head_revision
from tests import factories

ROOT = Path(__file__).parents[1]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("BOXOFFICE_DATABASE_URL", "BOXOFFICE_PLUGINS_FILE", "BOXOFFICE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOXOFFICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BOXOFFICE_PLUGINS_FILE", str(ROOT / "plugins.toml"))
    return tmp_path


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record uvicorn.run instead of serving forever."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append({"args": a, **kw}))
    return calls


def revision_of(url: str) -> str | None:
    async def read() -> str | None:
        db = Database(create_engine(url))
        try:
            return await current_revision(db)
        finally:
            await db.close()

    return asyncio.run(read())


def test_serve_refuses_an_unmigrated_database_naming_the_fix(
    env: Path,
    empty_db_url: str,
    db_engine: str,
    no_server: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if db_engine == "sqlite":
        # A brand-new SQLite file is migrated by serve itself; one behind the code is not.
        assert cli.main(["migrate", "--database-url", empty_db_url]) == 0

        async def roll_back() -> None:
            db = Database(create_engine(empty_db_url))
            await downgrade(db, "base")
            await db.close()

        asyncio.run(roll_back())
    code = cli.main(["serve", "--database-url", empty_db_url])
    err = capsys.readouterr().err
    assert code == 1
    assert "run `boxoffice migrate`" in err.lower()
    assert f"needs revision {head_revision()}" in err
    assert no_server == []


def test_serve_migrates_a_new_sqlite_file_and_loads_the_demo(
    env: Path, no_server: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--demo", "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert "created a new database" in err
    assert "demo data loaded" in err
    assert no_server[0]["args"] == ("boxoffice.api.app:create_app_from_env",)
    assert no_server[0]["factory"] is True
    assert no_server[0]["port"] == 8123
    assert no_server[0]["forwarded_allow_ips"] == "127.0.0.1", "trusted proxies: a setting"
    assert no_server[0]["timeout_worker_healthcheck"] == 60, "time for a worker to start"
    assert revision_of(f"sqlite:///{env / 'data' / 'boxoffice.sqlite3'}") == head_revision()
    # A second start finds the schema current and the demo present.
    assert cli.main(["serve", "--demo"]) == 0
    assert "database schema is current; demo data already present" in capsys.readouterr().err


def test_serve_on_sqlite_runs_one_process_and_says_why(
    env: Path, no_server: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--workers", "4"]) == 0
    assert "serving with one process, not 4: SQLite takes one process" in capsys.readouterr().err
    assert no_server[0]["workers"] == 1
    assert no_server[0]["http"].__name__ == "NoDelayHttpToolsProtocol"


def test_migrate_and_demo_on_both_engines(
    env: Path, empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--database-url", empty_db_url]) == 1
    assert "boxoffice migrate" in capsys.readouterr().err
    assert cli.main(["migrate", "--database-url", empty_db_url]) == 0
    assert f"database at revision {head_revision()}" in capsys.readouterr().out
    assert cli.main(["demo", "--database-url", empty_db_url]) == 0
    assert capsys.readouterr().out.strip() == "demo data loaded"
    assert cli.main(["demo", "--database-url", empty_db_url]) == 0
    assert capsys.readouterr().out.strip() == "demo data already present"
    assert cli.main(["worker", "--once", "--database-url", empty_db_url]) == 0
    assert capsys.readouterr().out.startswith("delivered ")
    assert cli.main(["grant-admin", "nobody@example.org", "--database-url", empty_db_url]) == 1
    assert "register it first" in capsys.readouterr().err
    assert cli.main(["grant-admin", "Organizer@demo.example", "--database-url", empty_db_url]) == 0
    assert "is now a platform admin" in capsys.readouterr().out
    changes = journal_of(empty_db_url, "PlatformRoleChanged")
    assert [(c["role"], c["by"]) for c in changes] == [("admin", "operator (command line)")]

    assert cli.main(["journal", "subscribers", "--database-url", empty_db_url]) == 0
    assert "projection:analytics" in capsys.readouterr().out
    assert cli.main(["journal", "types", "--database-url", empty_db_url]) == 0
    assert "OrderConfirmed               v2  order" in capsys.readouterr().out
    assert cli.main(["journal", "replay", "analytics", "--database-url", empty_db_url]) == 0
    assert "projection:analytics: delivered" in capsys.readouterr().out
    assert cli.main(["journal", "dead-letters", "--database-url", empty_db_url]) == 0
    assert capsys.readouterr().out.strip() == "no dead letters"
    assert cli.main(["journal", "dead-letter", "7", "--database-url", empty_db_url]) == 1
    assert "no dead letter 7" in capsys.readouterr().err


def journal_of(url: str, entry_type: str) -> list[dict[str, Any]]:
    """The data of the journal entries of ``entry_type``, oldest first."""

    async def read() -> list[dict[str, Any]]:
        db = Database(create_engine(url))
        try:
            async with db.read() as session:
                rows = await session.scalars(
                    select(JournalEntryRow.data)
                    .where(JournalEntryRow.type == entry_type)
                    .order_by(JournalEntryRow.position)
                )
                return list(rows)
        finally:
            await db.close()

    return asyncio.run(read())


def test_plugins_list_and_check(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugins", "list"]) == 0
    out = capsys.readouterr().out
    assert "offline  [enabled]  from boxoffice " in out
    assert "hooks:     register_payment_gateways" in out
    assert cli.main(["plugins", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "payment      offline" in out


def test_plugins_check_warns_when_the_log_channel_carries_email_in_production(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plugins", "check"]) == 0
    assert "warning" not in capsys.readouterr().err, "a local URL is development"
    monkeypatch.setenv("BOXOFFICE_PUBLIC_URL", "https://tickets.example.org")
    assert cli.main(["plugins", "check"]) == 0, "a warning, not a failure"
    err = capsys.readouterr().err
    assert "warning:" in err
    assert "routing.notifications[0].providers[0]" in err
    assert "the log channel carries e-mail at https://tickets.example.org" in err


def test_plugins_check_warns_where_a_region_wants_the_data_kept_in_it(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = env / "waemu.toml"
    config.write_text(
        (ROOT / "plugins.toml")
        .read_text()
        .replace('enabled = ["eu", "ca", "in", "us"]', 'enabled = ["eu", "waemu"]')
    )
    assert 'enabled = ["eu", "waemu"]' in config.read_text()
    monkeypatch.setenv("BOXOFFICE_PLUGINS_FILE", str(config))
    monkeypatch.setenv("BOXOFFICE_PUBLIC_URL", "https://tickets.example.org")
    assert cli.main(["plugins", "check"]) == 0, "a warning, not a failure"
    err = capsys.readouterr().err
    assert "regions.enabled[1]: the region 'waemu'" in err
    assert "wants personal data kept in waemu: host the database, its backups and replicas" in err
    assert "'eu'" not in err, "the EU asks no such thing"


def test_plugins_check_fails_on_a_broken_file_naming_the_key(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = env / "broken.toml"
    broken.write_text(
        '[regions]\nenabled = ["eu"]\n\n[[routing.payments]]\n'
        'currency = "EUR"\nproviders = ["stripe"]\n'
    )
    assert cli.main(["plugins", "check", "--plugins-file", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err
    assert f"{broken}:6: routing.payments[0].providers[0]: unknown payment gateway 'stripe'" in err
    not_toml = env / "not.toml"
    not_toml.write_text("[regions\n")
    assert cli.main(["plugins", "check", "--plugins-file", str(not_toml)]) == 1
    assert "not valid TOML" in capsys.readouterr().err
    assert cli.main(["serve", "--plugins-file", str(broken)]) == 1
    assert "unknown payment gateway 'stripe'" in capsys.readouterr().err


def test_bad_environment_settings_are_reported(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOXOFFICE_PORT", "not-a-port")
    assert cli.main(["plugins", "check"]) == 1
    assert capsys.readouterr().err.strip() == (
        "boxoffice: invalid environment setting BOXOFFICE_PORT: Expected `int`, got `str`"
    )


def test_plugins_list_shows_a_plugin_that_failed_with_its_reason(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider whose secret is not set is broken, not silently left out."""
    secretive = env / "secretive.toml"
    secretive.write_text('[providers.offline]\ninstructions = "env:BOXOFFICE_TEST_UNSET_SECRET"\n')
    assert cli.main(["plugins", "list", "--plugins-file", str(secretive)]) == 1
    captured = capsys.readouterr()
    assert "offline  [broken]" in captured.out
    assert "BOXOFFICE_TEST_UNSET_SECRET" in captured.out
    assert "broken: offline" in captured.err
    assert cli.main(["plugins", "check", "--plugins-file", str(secretive)]) == 1
    assert "BOXOFFICE_TEST_UNSET_SECRET" in capsys.readouterr().err


async def test_plugins_check_names_events_whose_region_no_pack_provides(
    env: Path,
    db_url: str,
    make_platform: factories.MakePlatform,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    await factories.event(platform.db, clock, slug="winter-ball")
    without_eu = env / "without-eu.toml"
    without_eu.write_text(factories.WITHOUT_EU)
    assert await asyncio.to_thread(cli.main, ["plugins", "check", "--database-url", db_url]) == 0
    capsys.readouterr()
    code = await asyncio.to_thread(
        cli.main, ["plugins", "check", "--plugins-file", str(without_eu), "--database-url", db_url]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "no enabled region pack provides 'eu'" in err
    assert "winter-ball" in err

    # An event stored before places were checked against regions: in the EU pack, in Canada.
    maple = await factories.event(platform.db, clock, slug="maple-gala")
    async with platform.db.transaction() as session:
        await session.execute(update(Event).where(Event.id == maple.id).values(country="CA"))
    with_eu = env / "with-eu.toml"
    with_eu.write_text(factories.PLUGINS_TOML)
    code = await asyncio.to_thread(
        cli.main, ["plugins", "check", "--plugins-file", str(with_eu), "--database-url", db_url]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "(maple-gala): country: CA is not in the region 'eu'" in err, err
    assert "winter-ball" not in err


def test_plugins_check_refuses_a_missing_file_and_reports_every_shape_problem(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = env / "missing.toml"
    assert cli.main(["plugins", "check", "--plugins-file", str(missing)]) == 1
    assert f"{missing}: no such file" in capsys.readouterr().err
    several = env / "several.toml"
    several.write_text(
        '[regions]\nenabled = "eu"\n[search]\nbackend = 3\n[[routing.payments]]\ncurrency = 5\n'
        'providers = ["offline"]\n[[routing.payments]]\nprovider = "x"\n[whatever]\na = 1\n'
    )
    assert cli.main(["plugins", "check", "--plugins-file", str(several)]) == 1
    err = capsys.readouterr().err
    for line in (
        f"{several}:2: regions.enabled: Expected `array`, got `str`",
        f"{several}:4: search.backend:",
        f"{several}:6: routing.payments[0].currency:",
        f"{several}:9: routing.payments[1].provider: unknown key",
        f"{several}:10: whatever: unknown key",
    ):
        assert line in err, err


SDKS = ("stripe", "razorpay", "paypalserversdk")


def _imported_sdks(env: Path, plugins_file: Path, environ: dict[str, str]) -> set[str]:
    """The payment SDKs a fresh ``boxoffice plugins check`` process imports."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "boxoffice", "plugins", "check"],
        env={**os.environ, **environ, "BOXOFFICE_PLUGINS_FILE": str(plugins_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
    return {sdk for sdk in SDKS if sdk in modules}


def test_a_payment_sdk_is_imported_only_when_its_gateway_is_configured(env: Path) -> None:
    """Each SDK costs every process tens of MB: a deployment that does not use Stripe,
    Razorpay or PayPal never imports them."""
    assert _imported_sdks(env, ROOT / "plugins.toml", {}) == set()
    with_stripe = env / "stripe.toml"
    with_stripe.write_text(
        (ROOT / "plugins.toml").read_text()
        + '\n[providers.stripe]\nsecret_key = "sk_test_x"\nwebhook_secret = "whsec_x"\n'
    )
    assert _imported_sdks(env, with_stripe, {}) == {"stripe"}


def test_translations_lists_each_catalog_and_what_the_partial_ones_lack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from boxoffice.api.problems import problem_titles
    from boxoffice.core.notify.rendering import (
        FULLY_TRANSLATED,
        available_locales,
        messages_in_templates,
        untranslated,
    )

    total = len(set(messages_in_templates()) | set(problem_titles()))
    assert cli.main(["translations"]) == 0, "every complete catalog is whole"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(available_locales()) - 1 >= 19
    whole = [line for line in lines if line.endswith("(complete)")]
    assert len(whole) == len(FULLY_TRANSLATED)
    assert f"pt-BR: {total}/{total} translated (complete)" in lines

    assert cli.main(["translations", "it", "--missing"]) == 0
    header, *missing = capsys.readouterr().out.splitlines()
    lacking = untranslated("it", problem_titles())
    assert missing == [f"  missing: {text}" for text in lacking]
    assert "  missing: The hold has expired" in missing, "problem titles are counted too"
    assert header == f"it: {total - len(lacking)}/{total} translated (partial)"

    assert cli.main(["translations", "tlh"]) == 2
    assert "no catalog for 'tlh'" in capsys.readouterr().err
