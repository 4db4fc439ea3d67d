"""Pricing: integer minor units, one rounding per line, discounts before tax, booking fees
taxed with the ticket, exclusive and inclusive taxes, exponents 0 and 3, platform fee; and
early-bird / tiered prices locked by the hold, over HTTP on both engines."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from boxoffice.core.booking import pricing
from boxoffice.core.clock import ManualClock
from boxoffice.core.compliance.region import TaxRate
from boxoffice.core.money import Money
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop

ADULT, CHILD = uuid.uuid4(), uuid.uuid4()


def test_discount_fee_and_exclusive_tax_add_up_exactly() -> None:
    sales_tax = TaxRate(country="US", name="Sales tax", percent=Decimal("8.875"), inclusive=False)
    breakdown = pricing.price(
        [pricing.Selection(ADULT, "Adult", 3333, 3), pricing.Selection(CHILD, "Child", 999, 1)],
        "USD",
        sales_tax,
        pricing.Discount("percent", 1000, frozenset({str(ADULT)})),
        fee_per_ticket=150,
        platform_fee_bp=250,
    )
    adult, child = breakdown.lines
    assert adult.subtotal == Money(9999, "USD")
    assert adult.discount == Money(1000, "USD")  # 10 % of 99.99, half up
    assert adult.fees == Money(450, "USD")
    assert adult.tax == Money(839, "USD")  # 8.875 % of 94.49 = 8.386, half up
    assert adult.total == Money(9999 - 1000 + 450 + 839, "USD")
    assert child.discount == Money(0, "USD")
    assert breakdown.total == adult.total + child.total
    assert breakdown.tax == adult.tax + child.tax
    assert breakdown.platform_fee == Money(round(breakdown.total.minor * 0.025), "USD")
    shares = pricing.split(adult.total.minor, 3)
    assert sum(shares) == adult.total.minor
    assert max(shares) - min(shares) <= 1


@pytest.mark.parametrize(("currency", "unit", "tax"), [("JPY", 3000, 273), ("BHD", 12345, 1122)])
def test_inclusive_tax_in_currencies_without_and_with_three_decimals(
    currency: str, unit: int, tax: int
) -> None:
    vat = TaxRate(country="XX", name="VAT", percent=Decimal("10"))
    breakdown = pricing.price([pricing.Selection(ADULT, "Adult", unit, 1)], currency, vat)
    assert breakdown.tax == Money(tax, currency)
    assert breakdown.total == Money(unit, currency), "included tax does not change the total"


def test_a_fixed_discount_never_exceeds_the_line() -> None:
    breakdown = pricing.price(
        [pricing.Selection(ADULT, "Adult", 500, 2)],
        "EUR",
        None,
        pricing.Discount("fixed", 800),
        fee_per_ticket=100,
    )
    assert breakdown.discount == Money(1000, "EUR")
    assert breakdown.fees == Money(0, "EUR"), "no booking fee on a ticket that costs nothing"
    assert breakdown.total == Money(0, "EUR")


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_early_bird_and_tiered_prices_are_locked_by_the_hold(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, fee_per_ticket_minor=150
        )
        early_until = clock.now() + timedelta(minutes=5)
        changed = await client.put(
            f"{base}/ticket-types/{store.types['Standard']}",
            headers=headers,
            json={
                "name": "Standard",
                "price": {"minor": 2500, "currency": "EUR"},
                "max_per_order": 20,
                "price_steps": [
                    {"price": {"minor": 2000, "currency": "EUR"}, "until": early_until.isoformat()},
                    {"price": {"minor": 2200, "currency": "EUR"}, "up_to_sold": 3},
                ],
            },
        )
        assert changed.status_code == 200, changed.text
        bad = await client.put(
            f"{base}/ticket-types/{store.types['Standard']}",
            headers=headers,
            json={
                "name": "Standard",
                "price": {"minor": 2500, "currency": "EUR"},
                "price_steps": [{"price": {"minor": 1, "currency": "USD"}}],
            },
        )
        assert {e["field"] for e in bad.json()["errors"]} == {
            "price_steps[0].price",
            "price_steps[0]",
        }

        async def shown() -> int:
            # The public availability may lag a sale by the read cache's second.
            clock.advance(seconds=platform.settings.read_cache_seconds)
            listed = await client.get(f"/api/v1/events/{store.event.id}/ticket-types")
            (ticket,) = listed.json()
            assert ticket["regular_price"]["minor"] == 2500
            return int(ticket["price"]["minor"])

        buyer = Buyer(client, store)
        assert await shown() == 2000
        early = (await buyer.hold(Standard=2)).json()
        assert early["items"][0]["unit_price"]["minor"] == 2000
        clock.advance(minutes=6)  # the early-bird window closed while the buyer was paying
        assert await shown() == 2200  # 2 of the first 3 taken: the tier price
        order = (await buyer.order(early)).json()
        line = order["breakdown"]["lines"][0]
        assert (line["unit_price"]["minor"], line["fees"]["minor"]) == (2000, 300)
        assert order["total"]["minor"] == 2 * 2000 + 2 * 150
        assert (await buyer.hold(Standard=1)).json()["items"][0]["unit_price"]["minor"] == 2200
        assert await shown() == 2500  # 3 taken: the regular price
