"""A person's rights over their data, on both engines: a copy of everything, and an erasure
that keeps the sales records (the invoice, its amounts and taxes) but no longer reveals the
person; refused while they are an organization's only owner."""

from __future__ import annotations

import json
from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.booking.test_checkout import checkout
from tests.identity.helpers import PASSWORD, auth, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_a_copy_then_an_erasure_that_keeps_the_invoice_but_not_the_person(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        ada = await sign_up(client, platform, "ada@example.org")
        sold = await checkout(
            client,
            store,
            email="ada@example.org",
            buyer={"name": "Ada Lovelace", "email": "ada@example.org", "phone": "+4915112345678"},
        )
        assert sold.status_code == 201, sold.text
        number = sold.json()["number"]
        paid = await client.post(f"{base}/orders/{number}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        await platform.dispatcher.run_until_idle()

        copy = await client.get("/api/v1/me/data", headers=auth(ada))
        assert copy.status_code == 200, copy.text
        assert "attachment" in copy.headers["content-disposition"]
        data = copy.json()
        assert data["account"]["email"] == "ada@example.org"
        assert [o["number"] for o in data["orders"]] == [number]
        assert [i["number"] for i in data["invoices"]] == ["INV-000001"]
        assert data["sessions"], "her sign-ins"

        wrong = await client.post("/api/v1/me/erase", headers=auth(ada), json={"password": "nope"})
        assert wrong.status_code == 400, wrong.text
        assert (await client.get("/api/v1/me", headers=auth(ada))).status_code == 200, "unchanged"

        erased = await client.post(
            "/api/v1/me/erase", headers=auth(ada), json={"password": PASSWORD}
        )
        assert erased.status_code == 200, erased.text
        report = erased.json()
        assert (report["orders"], report["tickets"], report["invoices"]) == (1, 2, 1)
        reference = report["reference"]
        assert reference.startswith("erased-")

        assert (await client.get("/api/v1/me", headers=auth(ada))).status_code == 401
        login = await client.post(
            "/api/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD}
        )
        assert login.status_code == 401, login.text

        [invoice] = (await client.get(f"{base}/orders/{number}/invoices", headers=headers)).json()
        assert (invoice["number"], invoice["total"]["minor"]) == ("INV-000001", 5000), "kept"
        assert invoice["taxes"][0]["amount"]["minor"] == 798, "its taxes too"
        assert invoice["buyer"]["name"] == reference
        order = (await client.get(f"{base}/orders/{number}", headers=headers)).json()
        assert order["status"] == "confirmed"
        everything = json.dumps([invoice, order])
        for trace in ("Ada", "Lovelace", "ada@example.org", "+4915112345678"):
            assert trace not in everything, trace
        found = await client.get(f"{base}/orders", headers=headers, params={"q": "ada@example.org"})
        assert found.json()["items"] == []


async def test_the_only_owner_of_an_organization_is_not_erased(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        _, headers, _ = await organizer_shop(client, platform, clock)
        refused = await client.post(
            "/api/v1/me/erase", headers=headers, json={"password": PASSWORD}
        )
        assert refused.status_code == 409, refused.text
        assert "only owner" in refused.json()["detail"]
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200


async def test_an_unproven_address_reveals_and_erases_nothing_bought_with_it(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """Someone signs up with a buyer's address and never verifies it: their copy holds none
    of the buyer's orders, and their erasure leaves them alone."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        sold = await checkout(client, store, email="victim@example.org")
        assert sold.status_code == 201, sold.text
        registered = await client.post(
            "/api/v1/auth/register",
            json={"email": "victim@example.org", "password": PASSWORD, "name": "Eve"},
        )
        assert registered.status_code == 202, registered.text
        login = await client.post(
            "/api/v1/auth/login", json={"email": "victim@example.org", "password": PASSWORD}
        )
        assert login.status_code == 200, "an unverified account signs in (and must see nothing)"
        eve = auth(login.json())
        copy = (await client.get("/api/v1/me/data", headers=eve)).json()
        assert (copy["orders"], copy["invoices"], copy["messages"]) == ([], [], [])
        erased = await client.post("/api/v1/me/erase", headers=eve, json={"password": PASSWORD})
        assert erased.status_code == 200, erased.text
        assert (erased.json()["orders"], erased.json()["tickets"]) == (0, 0)
        order = (await client.get(f"{base}/orders/{sold.json()['number']}", headers=headers)).json()
        assert order["buyer_email"] == "victim@example.org"
        assert order["buyer_name"] == "Fan"
