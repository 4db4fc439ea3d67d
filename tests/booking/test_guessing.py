"""Codes cannot be guessed cheaply, and an anonymous Idempotency-Key is the client's own."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.api.app import create_app
from boxoffice.api.booking import CODE_GUESSES
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from boxoffice.testing.plugin import app_client
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.identity.helpers import client_addresses


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_wrong_codes_make_a_client_wait_not_the_others(
    platform: Platform, clock: ManualClock
) -> None:
    app = client_addresses(create_app(platform))
    async with app_client(app) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        promo = await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={"code": "REAL10", "kind": "percent", "value": 1000},
        )
        assert promo.status_code == 201, promo.text
        guesser, buyer = {"x-test-client": "198.51.100.9"}, {"x-test-client": "203.0.113.5"}
        items = [{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}]

        def hold(code: str, who: dict[str, str], **extra: Any) -> Any:
            body = {"items": items, "promo_code": code, **extra}
            return client.post(f"/api/v1/events/{store.event.id}/holds", json=body, headers=who)

        for attempt in range(CODE_GUESSES.requests):
            refused = await hold(f"GUESS{attempt:03d}", guesser)
            assert refused.json()["rule"] == "promo_code_unknown"
        waiting = await hold("REAL10", guesser)
        assert waiting.status_code == 429, waiting.text
        assert int(waiting.headers["retry-after"]) > 0
        assert (await hold("REAL10", buyer)).status_code == 201, "others are not affected"
        access = await hold("", guesser, access_code="WRONGCODE")
        assert access.status_code == 429, "access codes count with promo codes"
        clock.advance(minutes=16)
        assert (await hold("REAL10", guesser)).status_code == 201


async def test_an_anonymous_key_replays_only_to_its_own_client(
    platform: Platform, clock: ManualClock
) -> None:
    app = client_addresses(create_app(platform))
    async with app_client(app) as client:
        store, _, _ = await organizer_shop(client, platform, clock)
        body = {
            "items": [{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}],
            "buyer": {"name": "Ada", "email": "ada@example.org"},
        }
        url = f"/api/v1/events/{store.event.id}/orders"
        first = {"idempotency-key": "k-123", "x-test-client": "203.0.113.5"}
        other = {"idempotency-key": "k-123", "x-test-client": "198.51.100.9"}
        placed = await client.post(url, json=body, headers=first)
        replayed = await client.post(url, json=body, headers=first)
        assert replayed.headers.get("idempotent-replayed") == "true"
        assert replayed.json()["secret"] == placed.json()["secret"]
        elsewhere = await client.post(url, json=body, headers=other)
        assert elsewhere.status_code == 201, elsewhere.text
        assert elsewhere.headers.get("idempotent-replayed") is None
        assert elsewhere.json()["number"] != placed.json()["number"]
        assert elsewhere.json()["secret"] != placed.json()["secret"], "never another's secret"
