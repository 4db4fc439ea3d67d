"""Routing: the most specific rule wins; unsupported or unavailable providers are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxoffice import hookimpl
from boxoffice.core.clock import ManualClock
from boxoffice.core.errors import NotFound, ProviderUnavailable
from boxoffice.core.payments.gateway import GatewayCapability
from boxoffice.core.storage import Database, create_engine
from boxoffice.plugins.config import parse_config
from boxoffice.plugins.manager import PluginSet, load_plugins
from boxoffice.plugins.routing import Router
from boxoffice.providers import log
from boxoffice.providers.offline import OfflineGateway, OfflineOptions
from boxoffice.regions import eu, united_states

#: Engines connect lazily: a configuration check never opens this file.
DB = Database(create_engine("sqlite+aiosqlite:////tmp/boxoffice-config-check/never.sqlite3"))


class Gateways:
    """Four offline-like gateways with different currency support."""

    @hookimpl
    def register_payment_gateways(self) -> list[OfflineGateway]:
        made = []
        for gid, currencies in [("any", []), ("eur", ["EUR"]), ("inr", ["INR"]), ("eur2", ["EUR"])]:
            gateway = OfflineGateway(OfflineOptions(currencies=currencies))
            gateway.id = gid  # type: ignore[misc]
            made.append(gateway)
        return made


CONFIG = """
[regions]
enabled = ["eu"]

[[routing.payments]]
providers = ["any"]

[[routing.payments]]
region = "eu"
providers = ["eur2", "any"]

[[routing.payments]]
currency = "EUR"
providers = ["eur"]

[[routing.payments]]
region = "eu"
currency = "EUR"
providers = ["inr", "eur2", "eur"]

[[routing.notifications]]
kind = "email"
providers = ["log"]
"""


@pytest.fixture
def router() -> Router:
    plugins = load_plugins(
        parse_config(CONFIG),
        data_dir=Path("/tmp/x"),
        clock=ManualClock(),
        database=DB,
        extra_plugins=[("gw", Gateways()), ("log", log), ("eu", eu)],
        use_entry_points=False,
        environ={},
    )
    assert plugins.problems == []
    return Router(plugins.loaded.config, plugins.providers)


def ids(gateways: list[OfflineGateway]) -> list[str]:  # type: ignore[type-arg]
    return [g.id for g in gateways]


def test_most_specific_rule_wins(router: Router) -> None:
    assert ids(router.payment_gateways(region="eu", currency="EUR")) == ["eur2", "eur"]  # type: ignore[arg-type]
    assert ids(router.payment_gateways(region=None, currency="EUR")) == ["eur"]  # type: ignore[arg-type]
    assert ids(router.payment_gateways(region="eu", currency="SEK")) == ["any"]  # type: ignore[arg-type]
    assert ids(router.payment_gateways(region="us", currency="USD")) == ["any"]  # type: ignore[arg-type]


def test_unavailable_providers_are_skipped_then_less_specific_rules_apply(router: Router) -> None:
    down = {"eur2", "eur"}
    chosen = router.payment_gateways(region="eu", currency="EUR", available=lambda p: p not in down)
    assert ids(chosen) == ["any"]  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable, match="no payment gateway is available for EUR"):
        router.payment_gateways(region="eu", currency="EUR", available=lambda p: False)


def test_notifications_regions_and_search(router: Router) -> None:
    assert [c.id for c in router.notification_channels(kind="email")] == ["log"]
    with pytest.raises(ProviderUnavailable):
        router.notification_channels(kind="push")
    assert router.region("eu").name == "European Union"
    assert [r.id for r in router.enabled_regions()] == ["eu"]
    with pytest.raises(NotFound):
        router.region("us")
    assert router.search_backend() is None


class CardGateways:
    """Two card gateways: one runs strong customer authentication, one does not."""

    @hookimpl
    def register_payment_gateways(self) -> list[OfflineGateway]:
        made = []
        for gid, capabilities in [
            ("plain", {GatewayCapability.REFUND}),
            ("secure", {GatewayCapability.REFUND, GatewayCapability.STRONG_AUTHENTICATION}),
        ]:
            gateway = OfflineGateway(OfflineOptions())
            gateway.id = gid  # type: ignore[misc]
            gateway.capabilities = frozenset(capabilities)  # type: ignore[misc]
            made.append(gateway)
        return made


def card_plugins(config: str) -> PluginSet:
    return load_plugins(
        parse_config('[regions]\nenabled = ["eu", "us"]\n\n' + config),
        data_dir=Path("/tmp/x"),
        clock=ManualClock(),
        database=DB,
        extra_plugins=[("cards", CardGateways()), ("eu", eu), ("us", united_states)],
        use_entry_points=False,
        environ={},
    )


def test_where_the_law_requires_strong_authentication_only_gateways_that_run_it_are_offered() -> (
    None
):
    plugins = card_plugins('[[routing.payments]]\nproviders = ["plain", "secure"]\n')
    assert plugins.problems == []
    router = Router(plugins.loaded.config, plugins.providers)
    assert ids(router.payment_gateways(region="eu", currency="EUR")) == ["secure"]  # type: ignore[arg-type]
    assert ids(router.payment_gateways(region="us", currency="USD")) == ["plain", "secure"]  # type: ignore[arg-type]

    named = card_plugins('[[routing.payments]]\nregion = "eu"\nproviders = ["plain", "secure"]\n')
    assert [str(p) for p in named.problems] == [
        "plugins.toml:6: routing.payments[0].providers[0]: 'plain' does not run strong customer "
        "authentication, which the law of region 'eu' requires of card payments: it would never "
        "be offered there"
    ]
