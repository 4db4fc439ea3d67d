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
from boxoffice.core.compliance.region import TaxComponent, TaxTreatment
from boxoffice.core.money import Money
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop

ADULT, CHILD = uuid.uuid4(), uuid.uuid4()


def test_discount_fee_and_exclusive_tax_add_up_exactly() -> None:
    sales_tax = TaxTreatment(
        components=(
            TaxComponent(name="Sales tax", jurisdiction="US-NY", percent=Decimal("8.875")),
        ),
        inclusive=False,
    )
    breakdown = pricing.price(
        [
            pricing.Selection(ADULT, "Adult", 3333, 3, sales_tax),
            pricing.Selection(CHILD, "Child", 999, 1, sales_tax),
        ],
        "USD",
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
    vat = TaxTreatment(
        components=(TaxComponent(name="VAT", jurisdiction="XX", percent=Decimal("10")),)
    )
    breakdown = pricing.price([pricing.Selection(ADULT, "Adult", unit, 1, vat)], currency)
    assert breakdown.tax == Money(tax, currency)
    assert breakdown.total == Money(unit, currency), "included tax does not change the total"


def test_two_taxes_each_on_the_price_before_tax_and_rounded_per_line() -> None:
    """Québec: GST and QST are each computed on the price before tax (not QST on GST), each
    rounded once per line; the breakdown has a tax line per tax."""
    quebec = TaxTreatment(
        components=(
            TaxComponent(name="GST", jurisdiction="CA", percent=Decimal("5")),
            TaxComponent(name="QST", jurisdiction="CA-QC", percent=Decimal("9.975")),
        ),
        inclusive=False,
    )
    breakdown = pricing.price(
        [
            pricing.Selection(ADULT, "Adult", 10000, 1, quebec),
            pricing.Selection(CHILD, "Child", 333, 3, quebec),
        ],
        "CAD",
    )
    adult, child = breakdown.lines
    assert adult.tax == Money(500 + 998, "CAD")  # 9.975 % of 100.00 = 9.975, half up
    assert child.tax == Money(50 + 100, "CAD")  # 5 % and 9.975 % of 9.99: 0.4995, 0.9965
    assert [(t.name, t.jurisdiction, t.country, t.amount) for t in breakdown.taxes] == [
        ("GST", "CA", "CA", Money(550, "CAD")),
        ("QST", "CA-QC", "CA", Money(1098, "CAD")),
    ]
    assert breakdown.total == Money(10000 + 999 + 550 + 1098, "CAD")


def test_inclusive_taxes_share_the_price_by_their_rates() -> None:
    """India: 1,180.00 including CGST 9 % and SGST 9 % is 1,000.00 and 90.00 of each."""
    gst = TaxTreatment(
        components=(
            TaxComponent(name="CGST", jurisdiction="IN", percent=Decimal("9")),
            TaxComponent(name="SGST", jurisdiction="IN-MH", percent=Decimal("9")),
        )
    )
    breakdown = pricing.price([pricing.Selection(ADULT, "Adult", 118000, 1, gst)], "INR")
    assert [t.amount for t in breakdown.taxes] == [Money(9000, "INR"), Money(9000, "INR")]
    assert breakdown.total == Money(118000, "INR")


def test_an_exempt_sale_has_no_tax_lines() -> None:
    exempt = TaxTreatment(components=())
    breakdown = pricing.price([pricing.Selection(ADULT, "Adult", 2500, 2, exempt)], "CHF")
    assert (breakdown.taxes, breakdown.tax, breakdown.total) == (
        [],
        Money(0, "CHF"),
        Money(5000, "CHF"),
    )


def test_lines_of_different_categories_are_taxed_each_by_its_own_rate() -> None:
    """Germany: a concert ticket at 7 % and a workshop at 19 % in one order: two VAT lines;
    two concert lines: one."""

    def vat(percent: str) -> TaxTreatment:
        return TaxTreatment(
            components=(TaxComponent(name="VAT", jurisdiction="DE", percent=Decimal(percent)),)
        )

    concert, workshop = vat("7"), vat("19")
    breakdown = pricing.price(
        [
            pricing.Selection(ADULT, "Concert", 10700, 1, concert),
            pricing.Selection(CHILD, "Workshop", 11900, 1, workshop),
            pricing.Selection(uuid.uuid4(), "Concert (reduced)", 5350, 2, concert),
        ],
        "EUR",
    )
    assert [(t.percent, t.amount) for t in breakdown.taxes] == [
        ("7", Money(700 + 700, "EUR")),
        ("19", Money(1900, "EUR")),
    ]
    assert breakdown.tax == Money(3300, "EUR")
    assert breakdown.total == Money(10700 + 11900 + 10700, "EUR")


def test_a_fixed_discount_never_exceeds_the_line() -> None:
    breakdown = pricing.price(
        [pricing.Selection(ADULT, "Adult", 500, 2)],
        "EUR",
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
