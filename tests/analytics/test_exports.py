"""Exports of orders and attendees over HTTP on both engines: CSV and XLSX with the same rows,
amounts in major units, times in the event's zone, and a buyer's name that looks like a
formula written as text."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from boxoffice.core.analytics.exports import ATTENDEE_COLUMNS, ORDER_COLUMNS
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop
from tests.tickets.test_checkin import credentials

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_orders_and_attendees_as_csv_and_xlsx(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, timezone="America/Toronto"
        )
        zoe = Buyer(client, store, "zoe@example.org")
        held = await zoe.hold(Standard=2)
        paid = (
            await zoe.order(held.json(), buyer={"name": "Zoë Ørsted", "email": "zoe@example.org"})
        ).json()
        await client.post(f"{base}/orders/{paid['number']}/mark-paid", headers=headers)
        sneaky = Buyer(client, store, "sneaky@example.org")
        held = await sneaky.hold(Standard=1)
        await sneaky.order(held.json(), buyer={"name": FORMULA, "email": "sneaky@example.org"})
        door = await client.post(f"{base}/checkin-lists", json={"name": "Door"}, headers=headers)
        first_ticket = (await credentials(client, paid))[0]
        await client.post(
            f"{base}/checkin-lists/{door.json()['id']}/scans",
            json={"credential": first_ticket},
            headers=headers,
        )

        orders_csv = await client.get(f"{base}/exports/orders.csv", headers=headers)
        assert orders_csv.status_code == 200, orders_csv.text
        assert orders_csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in orders_csv.headers["content-disposition"]
        text = orders_csv.content.decode("utf-8")
        assert text.startswith("\ufeff"), "a BOM, so that spreadsheets read the accents"
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert list(rows[0]) == ORDER_COLUMNS
        by_email = {r["buyer_email"]: r for r in rows}
        assert by_email["zoe@example.org"]["buyer_name"] == "Zoë Ørsted"
        assert by_email["zoe@example.org"]["total"] == "50.00"
        assert by_email["zoe@example.org"]["status"] == "confirmed"
        assert by_email["zoe@example.org"]["placed_at"] == "2030-01-01T07:00:00-05:00"
        assert by_email["sneaky@example.org"]["buyer_name"] == "'" + FORMULA

        attendees = await client.get(f"{base}/exports/attendees.xlsx", headers=headers)
        assert attendees.status_code == 200, attendees.text
        assert "spreadsheetml" in attendees.headers["content-type"]
        sheet = load_workbook(io.BytesIO(attendees.content), read_only=True)["attendees"]
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert table[0] == ATTENDEE_COLUMNS
        assert len(table) == 1 + 3
        names = sorted(str(r[3]) for r in table[1:])
        assert names == sorted(["Zoë Ørsted", "Zoë Ørsted", "'" + FORMULA])
        scanned = [r for r in table[1:] if r[8] is not None]
        assert len(scanned) == 1
        assert str(scanned[0][8]) == "2030-01-01 07:00:00", "the event's local time"

        orders_xlsx = await client.get(f"{base}/exports/orders.xlsx", headers=headers)
        book = load_workbook(io.BytesIO(orders_xlsx.content), read_only=True)["orders"]
        assert len(list(book.iter_rows(values_only=True))) == 1 + 2

        assert (await client.get(f"{base}/exports/orders.pdf", headers=headers)).status_code == 404
        assert (await client.get(f"{base}/exports/orders.csv")).status_code == 401
