"""The assembled platform: plugins react to journal entries; readiness reports providers."""

from __future__ import annotations

import asyncio
from typing import Any

from boxoffice import HealthState, ProviderHealth, RecordedEntry, hookimpl
from boxoffice.core.clock import ManualClock
from boxoffice.providers.offline import OfflineGateway
from tests import factories
from tests.identity.helpers import auth, make_admin, sign_up


class Auditor:
    """A third-party plugin that reacts to journal entries (async), failing once."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.failures = 1

    @hookimpl
    async def journal_entry_recorded(self, entry: RecordedEntry) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("audit store unavailable")
        self.seen.append(entry.type)


class Counter:
    """Another one, synchronous, which must not be held back by Auditor's failure."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def journal_entry_recorded(self, entry: RecordedEntry) -> None:
        self.count += 1


async def test_plugins_receive_journal_entries_each_with_its_own_retries(
    make_platform: factories.MakePlatform, clock: ManualClock
) -> None:
    auditor, counter = Auditor(), Counter()
    platform = make_platform([("auditor", auditor), ("counter", counter)])
    assert {s.name for s in platform.dispatcher.subscribers} >= {"plugin:auditor", "plugin:counter"}
    await platform.dispatcher.run_until_idle()  # the plugins start at the journal's end
    await factories.event(platform.db, clock)
    await platform.dispatcher.run_until_idle()
    assert counter.count == 3  # OrganizationCreated, EventCreated, EventStatusChanged
    assert auditor.seen == []
    clock.advance(seconds=5)
    await platform.dispatcher.run_until_idle()
    assert auditor.seen == ["OrganizationCreated", "EventCreated", "EventStatusChanged"]
    assert counter.count == 3


class Flaky:
    @hookimpl
    def register_payment_gateways(self) -> list[Any]:
        slow, broken = OfflineGateway(), OfflineGateway()
        slow.id, broken.id = "slow", "broken"  # type: ignore[misc]

        async def hang() -> ProviderHealth:
            await asyncio.sleep(60)
            return ProviderHealth(HealthState.UP)

        async def fail() -> ProviderHealth:
            raise ConnectionError("no route to gateway")

        slow.health, broken.health = hang, fail  # type: ignore[method-assign]
        return [slow, broken]


async def test_readiness_is_degraded_when_a_provider_is_down(
    make_platform: factories.MakePlatform, make_client: Any, monkeypatch: Any
) -> None:
    from boxoffice.api import health

    monkeypatch.setattr(health, "PROVIDER_CHECK_TIMEOUT", 0.2)
    platform = make_platform([("flaky", Flaky())], config=factories.PLUGINS_TOML, entry_points=True)
    async with make_client(platform) as client:
        anyone = await client.get("/health/ready")
        admin = await sign_up(client, platform, "ops@example.org")
        await make_admin(platform, "ops@example.org")
        ready = await client.get("/health/ready", headers=auth(admin))
    assert anyone.status_code == 200
    assert anyone.json()["status"] == "degraded"
    assert anyone.json()["providers"]["payment:slow"] == {
        "state": "down",
        "detail": "",
        "breaker": "closed",
    }
    assert "/" not in anyone.text.replace("/health", ""), "no server path for anyone"
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["providers"]["payment:slow"] == {
        "state": "down",
        "detail": "health check timed out",
        "breaker": "closed",
    }
    assert body["providers"]["payment:broken"] == {
        "state": "down",
        "detail": "health check failed: ConnectionError",
        "breaker": "closed",
    }
    assert str(platform.settings.data_dir) in body["providers"]["notification:log"]["detail"]
