"""Invoices and credit notes: numbers without gaps under 100 concurrent confirmations and
100 concurrent issuers, on both engines; what an invoice holds (Québec's two taxes), and a
refund's credit note correcting it."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from boxoffice.api.app import create_app
from boxoffice.core.clock import ManualClock
from boxoffice.core.invoices.models import Invoice
from boxoffice.core.invoices.service import issue_invoice
from boxoffice.platform import Platform
from boxoffice.testing.plugin import app_client
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.booking.test_checkout import checkout
from tests.identity.helpers import client_addresses

ORDERS = 100


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def numbers_of(platform: Platform) -> list[tuple[str, int, uuid.UUID]]:
    async with platform.db.read() as session:
        rows = await session.execute(
            select(Invoice.series, Invoice.number, Invoice.order_id).order_by(Invoice.number)
        )
        return [(series, number, order_id) for series, number, order_id in rows]


async def test_numbers_have_no_gaps_under_100_concurrent_confirmations(
    platform: Platform, clock: ManualClock
) -> None:
    # A hundred buyers from a hundred addresses (one address may place only so many holds).
    async with app_client(client_addresses(create_app(platform))) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Standard": 2500},
            quotas={"Hall": (ORDERS, ["Standard"])},
        )
        base = base.rsplit("/events/", 1)[0] + f"/events/{store.event.id}"
        placed = []
        for index in range(ORDERS):
            one = [{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}]
            sold = await checkout(
                client,
                store,
                email=f"fan{index}@example.org",
                headers={"x-test-client": f"198.51.100.{index + 1}"},
                items=one,
            )
            assert sold.status_code == 201, sold.text
            placed.append(sold.json())
        assert all(order["status"] == "pending" for order in placed)

        async def mark_paid(order: dict[str, Any]) -> int:
            paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
            return int(paid.status_code)

        assert await asyncio.gather(*map(mark_paid, placed)) == [200] * ORDERS

        # 100 issuers at once, each in its own transaction, before the subscriber runs
        # (PostgreSQL: 100 connections waiting on one series row).
        order_ids = [uuid.UUID(order["id"]) for order in placed]

        async def issue(order_id: uuid.UUID) -> None:
            async with platform.db.transaction() as session:
                await issue_invoice(session, platform.clock, order_id, platform.region_or_none)

        await asyncio.gather(*map(issue, order_ids))
        # Two dispatchers at once: the subscriber then finds every invoice issued already.
        await asyncio.gather(
            platform.dispatcher.run_until_idle(), platform.dispatcher.run_until_idle()
        )

        issued = await numbers_of(platform)
        assert [number for _, number, _ in issued] == list(range(1, ORDERS + 1)), "gap-free"
        assert {series for series, _, _ in issued} == {"INV"}
        assert sorted(order_id for _, _, order_id in issued) == sorted(order_ids), "one each"


async def test_an_invoice_shows_each_tax_and_a_refund_issues_a_credit_note(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            **factories.QUEBEC,
            language="fr",
            types={"Standard": 10000},
        )
        billing = {"legal_address": "1 rue Sainte-Catherine, Montréal QC", "country": "ca"}
        billing["tax_id"] = "123456789rt0001"
        organization = base.split("/events/")[0]
        for wrong in ({"country": "XX"}, {"tax_id": "-"}, {"legal_address": "x" * 501}):
            refused = await client.patch(organization, headers=headers, json=wrong)
            assert refused.status_code == 400, refused.text
        updated = await client.patch(organization, headers=headers, json=billing)
        assert updated.status_code == 200, updated.text
        assert (updated.json()["country"], updated.json()["tax_id"]) == ("CA", "123456789RT0001")
        sold = await checkout(client, store)  # two tickets at 100.00, GST and QST on top
        assert sold.status_code == 201, sold.text
        order = sold.json()
        secret = order["secret"]
        buyer_link = f"/api/v1/orders/{order['number']}/invoices?secret={secret}"
        assert (await client.get(buyer_link)).json() == [], "nothing before payment"
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        await platform.dispatcher.run_until_idle()

        [invoice] = (await client.get(buyer_link)).json()
        assert invoice["number"] == "INV-000001"
        assert (invoice["kind"], invoice["language"], invoice["inclusive"]) == (
            "invoice",
            "fr",
            False,
        )
        assert invoice["buyer"]["email"] == "fan@example.org"
        seller = invoice["seller"]
        assert (seller["tax_id"], seller["country"]) == ("123456789RT0001", "CA")
        assert seller["address"] == billing["legal_address"], "what regions require of a seller"
        assert invoice["event"]["starts_at_local"].endswith("-05:00") or invoice["event"][
            "starts_at_local"
        ].endswith("-04:00"), "shown in the event's zone"
        assert [(t["name"], t["jurisdiction"], t["amount"]["minor"]) for t in invoice["taxes"]] == [
            ("GST", "CA", 1000),
            ("QST", "CA-QC", 1995),
        ]
        assert [
            (line["quantity"], line["amount"]["minor"], line["tax"]["minor"])
            for line in invoice["lines"]
        ] == [(2, 20000, 2995)]
        assert (invoice["tax"]["minor"], invoice["total"]["minor"]) == (2995, 22995)

        pdf = await client.get(
            f"/api/v1/orders/{order['number']}/invoices/INV-000001/pdf?secret={secret}"
        )
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        text = " ".join(
            " ".join(page.extract_text().split())
            for page in PdfReader(io.BytesIO(pdf.content)).pages
        )
        assert "Facture INV-000001" in text, "in the event's language"
        assert "Acheteur: Fan <fan@example.org>" in text, text
        assert "229,95" in text, "money in French"
        assert "N° d\u2019identification fiscale : 123456789RT0001" in text, "typography kept"
        assert "QST 9.975 % (CA-QC)" in text, text
        missing = await client.get(
            f"/api/v1/orders/{order['number']}/invoices/INV-000002/pdf?secret={secret}"
        )
        assert missing.status_code == 404, missing.text
        wrong_secret = await client.get(
            f"/api/v1/orders/{order['number']}/invoices/INV-000001/pdf?secret=nope"
        )
        assert wrong_secret.status_code == 404, wrong_secret.text

        [ticket, _] = (
            await client.get(f"/api/v1/orders/{order['number']}/tickets?secret={secret}")
        ).json()
        refunded = await client.post(
            f"{base}/orders/{order['number']}/refund",
            headers=headers,
            json={"ticket_ids": [ticket["id"]], "reason": "could not come"},
        )
        assert refunded.status_code == 200, refunded.text
        await platform.dispatcher.run_until_idle()
        organizer_view = await client.get(
            f"{base}/orders/{order['number']}/invoices", headers=headers
        )
        assert organizer_view.status_code == 200, organizer_view.text
        invoice_again, credit = organizer_view.json()
        assert invoice_again == invoice, "an issued invoice never changes"
        assert (credit["number"], credit["kind"], credit["corrects"]) == (
            "CRN-000001",
            "credit_note",
            "INV-000001",
        )
        # One ticket of two: the line's 229.95 split 114.98 + 114.97, its tax 14.98 + 14.97.
        assert (credit["total"]["minor"], credit["tax"]["minor"]) == (-11498, -1498)
        assert [t["amount"]["minor"] for t in credit["taxes"]] == [-501, -997], "as charged"
        assert credit["lines"][0]["amount"]["minor"] == -10000, "before tax, as invoiced"
        credit_pdf = await client.get(
            f"{base}/orders/{order['number']}/invoices/CRN-000001/pdf", headers=headers
        )
        assert credit_pdf.status_code == 200, credit_pdf.text
        credit_text = PdfReader(io.BytesIO(credit_pdf.content)).pages[0].extract_text()
        assert "Avoir CRN-000001, rectifiant la facture INV-000001" in " ".join(credit_text.split())
