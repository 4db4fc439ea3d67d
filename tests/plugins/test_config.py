"""plugins.toml: every mistake is reported with its key and line."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.core.hookspecs import hookimpl
from boxoffice.core.storage import Database, create_engine
from boxoffice.plugins.config import ConfigFileError, LineIndex, load_config, parse_config
from boxoffice.plugins.manager import load_plugins
from boxoffice.providers import dbsearch, log, offline
from boxoffice.regions import canada, eu
from boxoffice.regions.canada import Canada

#: Engines connect lazily: a configuration check never opens this file.
DB = Database(create_engine("sqlite+aiosqlite:////tmp/boxoffice-config-check/never.sqlite3"))

BUNDLED = [("offline", offline), ("log", log), ("eu", eu), ("dbsearch", dbsearch)]


def problems_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    loaded = parse_config(text)
    plugins = load_plugins(
        loaded,
        data_dir=Path("/tmp/unused"),
        clock=ManualClock(),
        database=DB,
        extra_plugins=BUNDLED,
        use_entry_points=False,
        environ=environ or {},
    )
    return [str(p) for p in plugins.problems]


def test_the_shipped_plugins_toml_is_valid() -> None:
    root = Path(__file__).parents[2]
    loaded = load_config(root / "plugins.toml", required=True)
    plugins = load_plugins(
        loaded, data_dir=root / "data", clock=ManualClock(), database=DB, use_entry_points=True
    )
    assert plugins.problems == []
    assert set(plugins.providers.payment) >= {"offline"}


def test_not_toml_names_the_line() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_config('[regions]\nenabled = ["eu"\n\n[search]\n')
    assert "not valid TOML" in str(caught.value)
    assert caught.value.problems[0].line is not None


def test_an_unknown_key_is_named_with_its_line() -> None:
    text = '[regions]\nenabled = ["eu"]\n\n[[routing.payments]]\nprovider = ["offline"]\n'
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text)
    assert str(caught.value) == (
        "plugins.toml:5: routing.payments[0].provider: unknown key (check the spelling; "
        "see docs/ops.md for the keys)"
    )


def test_a_wrong_type_is_named_with_its_line() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_config('[regions]\nenabled = "eu"\n')
    assert str(caught.value).startswith("plugins.toml:2: regions.enabled: Expected `array`")


def test_unknown_provider_ids_are_reported() -> None:
    text = (
        '[regions]\nenabled = ["eu"]\n\n'
        '[providers.strpie]\nsecret_key = "x"\n\n'
        '[[routing.payments]]\ncurrency = "EUR"\nproviders = ["offline", "strpie"]\n'
    )
    found = problems_of(text)
    assert any(
        p.startswith("plugins.toml:4: providers.strpie: no enabled plugin provides 'strpie'")
        for p in found
    ), found
    assert any(
        p.startswith(
            "plugins.toml:9: routing.payments[0].providers[1]: unknown payment gateway 'strpie'"
        )
        for p in found
    ), found


def test_a_currency_no_listed_gateway_supports() -> None:
    text = (
        '[providers.offline]\ncurrencies = ["EUR"]\n\n'
        '[[routing.payments]]\ncurrency = "INR"\nproviders = ["offline"]\n\n'
        '[[routing.payments]]\ncurrency = "EURO"\nproviders = ["offline"]\n'
    )
    found = problems_of(text)
    assert "plugins.toml:5: routing.payments[0].currency: none of offline supports INR" in found
    assert (
        "plugins.toml:9: routing.payments[1].currency: 'EURO' is not an ISO 4217 currency code"
    ) in found


def test_a_missing_env_secret_is_reported_and_present_ones_resolve(tmp_path: Path) -> None:
    text = '[providers.log]\ndirectory = "env:BOXOFFICE_TEST_OUTBOX"\n'
    assert problems_of(text) == [
        "plugins.toml:2: providers.log.directory: environment variable BOXOFFICE_TEST_OUTBOX "
        "is not set"
    ]
    loaded = parse_config(text)
    plugins = load_plugins(
        loaded,
        data_dir=tmp_path,
        clock=ManualClock(),
        database=DB,
        extra_plugins=BUNDLED,
        use_entry_points=False,
        environ={"BOXOFFICE_TEST_OUTBOX": str(tmp_path / "mail")},
    )
    assert plugins.problems == []
    assert plugins.providers.notification["log"].directory == tmp_path / "mail"  # type: ignore[attr-defined]


def test_bad_provider_options_are_reported_against_the_key() -> None:
    found = problems_of('[providers.offline]\ncurrencies = "EUR"\ncolour = "red"\n')
    assert len(found) == 1
    assert found[0].startswith("plugins.toml:2: providers.offline.currencies: Expected `array`")


def test_rules_regions_and_search_are_cross_checked() -> None:
    text = (
        '[regions]\nenabled = ["eu", "atlantis"]\n\n[search]\nbackend = "opensearch"\n\n'
        '[[routing.payments]]\nregion = "us"\nproviders = ["offline"]\n\n'
        '[[routing.payments]]\nregion = "us"\nproviders = []\n\n'
        '[[routing.notifications]]\nkind = "push"\nregion = "mars"\nproviders = ["log", "x"]\n'
    )
    found = problems_of(text)
    expected = [
        "plugins.toml:2: regions.enabled[1]: no enabled plugin provides the region 'atlantis'",
        "plugins.toml:5: search.backend: no enabled plugin provides the search backend "
        "'opensearch'",
        "plugins.toml:8: routing.payments[0].region: region 'us' is not in regions.enabled",
        "plugins.toml:11: routing.payments[1]: same region and currency as routing.payments[0]: "
        "merge the two rules",
        "plugins.toml:17: routing.notifications[0].region: region 'mars' is not in regions.enabled",
        "plugins.toml:18: routing.notifications[0].providers[0]: 'log' cannot deliver 'push' "
        "messages (it does ['email', 'sms'])",
        "plugins.toml:18: routing.notifications[0].providers[1]: unknown notification channel 'x'",
    ]
    for line in expected:
        assert line in found, (line, found)
    assert any("routing.payments[1].providers: list at least one gateway" in p for p in found)


def test_line_index_handles_arrays_of_tables_and_dotted_keys() -> None:
    index = LineIndex('[a]\nx = 1\n[[b.c]]\ny = 2\n[[b.c]]\ny = 3\n"q.r" = 4\nz.w = 5\n')
    assert index.line_of(("a", "x")) == 2
    assert index.line_of(("b", "c", 1, "y")) == 6
    assert index.line_of(("b", "c", 1, "z", "w")) == 8
    assert index.line_of(("b", "c", 0, "missing")) == 3
    assert index.line_of(("nowhere",)) is None


def test_a_missing_file_is_an_empty_configuration_unless_required(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.toml").config.routing.payments == []
    with pytest.raises(ConfigFileError, match="no such file"):
        load_config(tmp_path / "none.toml", required=True)


class _AnotherCanada(Canada):
    id = "acadia"
    name = "A third party's Canada"


class _AnotherCanadaPlugin:
    @hookimpl
    def register_compliance_regions(self) -> list[Canada]:
        return [_AnotherCanada()]


def test_two_enabled_packs_for_one_country_conflict() -> None:
    loaded = parse_config('[regions]\nenabled = ["eu", "ca", "acadia"]\n')
    plugins = load_plugins(
        loaded,
        data_dir=Path("/tmp/unused"),
        clock=ManualClock(),
        database=DB,
        extra_plugins=[*BUNDLED, ("ca", canada), ("acadia", _AnotherCanadaPlugin())],
        use_entry_points=False,
        environ={},
    )
    assert [str(p) for p in plugins.problems] == [
        "plugins.toml:2: regions.enabled[2]: the region 'acadia' covers CA, as 'ca' does: a "
        "country's events would be taxed by two packs' rules; enable one of them"
    ]


class _KlingonCanada(Canada):
    """Canada, with a law asking for a language the platform has no catalog for."""

    business_rules = msgspec.structs.replace(
        Canada.business_rules, languages={"CA-QC": ("fr",), "CA-ON": ("fr", "tlh")}
    )


class _KlingonCanadaPlugin:
    @hookimpl
    def register_compliance_regions(self) -> list[Canada]:
        return [_KlingonCanada()]


def test_a_language_a_region_must_offer_needs_a_catalog() -> None:
    def problems(plugin: object) -> list[str]:
        plugins = load_plugins(
            parse_config('[regions]\nenabled = ["eu", "ca"]\n'),
            data_dir=Path("/tmp/unused"),
            clock=ManualClock(),
            database=DB,
            extra_plugins=[*BUNDLED, ("ca", plugin)],
            use_entry_points=False,
            environ={},
        )
        return [str(p) for p in plugins.problems]

    assert problems(canada) == [], "the bundled ca pack's French in Québec has its catalog"
    assert problems(_KlingonCanadaPlugin()) == [
        "plugins.toml:2: regions.enabled[1]: the region 'ca' must offer tlh in CA-ON and the "
        "platform has no catalog for it"
    ]
