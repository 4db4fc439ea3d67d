"""Business buyers in the EU: a cross-border B2B reverse-charge invoice (an online event
bought by a French business from a German organizer), and where the rules say otherwise:
admission to a venue is taxed where it is held (Art. 53), a consumer pays their own
country's VAT on a stream (Art. 54(2)(b)), a tax id must be valid for its country and a
reverse-charged order must name the buyer's address. On both engines."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Shop, organizer_shop
from tests.booking.test_checkout import checkout, rows

#: Real, valid VAT ids (python-stdnum's documentation examples).
FRENCH_VAT_ID, GERMAN_VAT_ID = "FR 40 303 265 045", "DE 136 695 976"
ONLINE = {"online": True, "online_url": "https://stream.example.org/keynote"}
SELLER = {"legal_address": "Hafenstraße 1, 20459 Hamburg", "country": "DE", "tax_id": "DE136695976"}
BUSINESS = {
    "name": "Ada Conseil SARL",
    "email": "compta@ada.example.fr",
    "country": "FR",
    "tax_id": FRENCH_VAT_ID,
    "address": "12 rue de la Paix, 75002 Paris",
}


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def german_shop(
    client: Any, platform: Platform, clock: ManualClock, **event: Any
) -> tuple[Shop, dict[str, str], str]:
    """A Hamburg organizer with its billing details, selling one 119.00 EUR ticket type."""
    store, headers, base = await organizer_shop(
        client, platform, clock, types={"Standard": 11900}, **event
    )
    organization = base.split("/events/")[0]
    updated = await client.patch(organization, headers=headers, json=SELLER)
    assert updated.status_code == 200, updated.text
    return store, headers, base


def one_ticket(store: Shop) -> list[dict[str, Any]]:
    return [{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}]


async def test_a_cross_border_b2b_reverse_charge_invoice_in_the_eu(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await german_shop(client, platform, clock, **ONLINE)
        sold = await checkout(client, store, buyer=BUSINESS, items=one_ticket(store))
        assert sold.status_code == 201, sold.text
        order = sold.json()
        breakdown = order["breakdown"]
        # 119.00 includes German VAT (19 %): the business pays it net, 100.00, and no VAT.
        assert (order["total"]["minor"], breakdown["tax"]["minor"]) == (10000, 0)
        assert breakdown["taxes"] == []
        assert breakdown["reverse_charge"] is True
        assert breakdown["mentions"] == [
            "Reverse charge: VAT to be accounted for by the recipient "
            "(Art. 196, Directive 2006/112/EC)"
        ]
        assert (order["buyer_tax_id"], order["buyer_address"]) == (
            "FR40303265045",
            BUSINESS["address"],
        ), "the id stored compact, with its country prefix"

        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        await platform.dispatcher.run_until_idle()
        link = f"/api/v1/orders/{order['number']}/invoices"
        [invoice] = (await client.get(link, params={"secret": order["secret"]})).json()
        assert invoice["reverse_charge"] is True
        assert invoice["mentions"] == breakdown["mentions"]
        assert invoice["missing"] == [], "everything the EU requires of this invoice is there"
        assert (invoice["seller"]["tax_id"], invoice["buyer"]["tax_id"]) == (
            "DE136695976",
            "FR40303265045",
        )
        assert invoice["buyer"]["address"] == BUSINESS["address"]
        assert (invoice["tax"]["minor"], invoice["total"]["minor"], invoice["taxes"]) == (
            0,
            10000,
            [],
        )
        pdf = await client.get(
            f"{link}/{invoice['number']}/pdf", params={"secret": order["secret"]}
        )
        assert pdf.status_code == 200, pdf.text
        text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
        assert "Reverse charge: VAT to be accounted for by the recipient" in text, text
        assert "Tax id: FR40303265045" in text, text
        assert "12 rue de la Paix" in text, text


async def test_where_the_eu_taxes_a_ticket_whoever_buys_it(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        venue, _, _ = await german_shop(client, platform, clock)
        stream, _, _ = await german_shop(
            client, platform, clock, email="stream@example.org", **ONLINE
        )
        consumer = {"name": "Zoé", "email": "zoe@example.fr", "country": "FR"}
        same_country = {**BUSINESS, "country": "DE", "tax_id": GERMAN_VAT_ID}

        async def taxes(store: Shop, buyer: dict[str, Any]) -> list[tuple[str, str, int]]:
            sold = await checkout(client, store, buyer=buyer, items=one_ticket(store))
            assert sold.status_code == 201, sold.text
            assert sold.json()["breakdown"]["reverse_charge"] is False
            return [
                (t["country"], t["percent"], t["amount"]["minor"])
                for t in sold.json()["breakdown"]["taxes"]
            ]

        # A seat in Hamburg: German VAT, for a French business too (Art. 53).
        assert await taxes(venue, BUSINESS) == [("DE", "19", 1900)]
        # A stream bought by a consumer in France: French VAT, 20 % of 119.00 included.
        assert await taxes(stream, consumer) == [("FR", "20", 1983)]
        # A stream bought by a business in the seller's own country: domestic VAT.
        assert await taxes(stream, same_country) == [("DE", "19", 1900)]


async def test_a_business_buyers_details_are_checked_and_a_refusal_changes_nothing(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, _, _ = await german_shop(client, platform, clock, **ONLINE)
        before = await rows(platform)
        cases = [
            # A check digit wrong.
            ({**BUSINESS, "tax_id": "FR 41 303 265 045"}, 400, ["buyer.tax_id"]),
            # A German id given by a buyer in France.
            ({**BUSINESS, "tax_id": GERMAN_VAT_ID}, 400, ["buyer.tax_id"]),
            # A tax id without the country that issued it.
            ({**BUSINESS, "country": None}, 400, ["buyer.country"]),
            # Reverse-charged: the invoice must carry the buyer's address.
            ({**BUSINESS, "address": None}, 422, ["buyer.address"]),
        ]
        for buyer, status, fields in cases:
            refused = await checkout(client, store, buyer=buyer, items=one_ticket(store))
            assert refused.status_code == status, (buyer, refused.text)
            problem = refused.json()
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert [error["field"] for error in problem["errors"]] == fields, problem
        assert await rows(platform) == before, "no hold, no order"


async def test_the_billing_check_and_the_invoice_name_what_the_region_requires(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Standard": 11900}
        )
        organization = base.split("/events/")[0]
        check = await client.get(f"{organization}/billing", headers=headers)
        assert check.status_code == 200, check.text
        required = ["seller.address", "seller.name", "seller.tax_id"]
        assert check.json() == {
            "requires": {"eu": required},
            "missing": {"eu": ["seller.address", "seller.tax_id"]},
        }
        outsider = await client.get(
            f"{organization}/billing", headers={"authorization": "Bearer not-a-token"}
        )
        assert outsider.status_code == 401, outsider.text

        sold = await checkout(client, store, items=one_ticket(store))
        order = sold.json()
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        await platform.dispatcher.run_until_idle()
        [invoice] = (
            await client.get(f"{base}/orders/{order['number']}/invoices", headers=headers)
        ).json()
        assert invoice["missing"] == ["seller.address", "seller.tax_id"], "issued, and says so"

        updated = await client.patch(organization, headers=headers, json=SELLER)
        assert updated.status_code == 200, updated.text
        check = await client.get(f"{organization}/billing", headers=headers)
        assert check.json() == {"requires": {"eu": required}, "missing": {"eu": []}}
