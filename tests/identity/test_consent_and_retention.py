"""Consent records, retention and the copy as a job, on both engines: every consent given
or withdrawn is kept with its time, the version of the wording and its source, shown in the
person's copy and kept (no longer naming them) after an erasure; the region's retention
periods delete the check-ins and then take the person out of the sales records, which stay;
a copy asked for as a job is built in the background and downloaded through its link for a
week."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.clock import ManualClock
from boxoffice.core.identity.models import AuthSession, RefreshToken
from boxoffice.core.invoices.models import Invoice
from boxoffice.core.maintenance import run_maintenance
from boxoffice.core.notify.models import ConsentRecord
from boxoffice.core.notify.preferences import MARKETING_TEXT_VERSION
from boxoffice.core.privacy.models import DataExport
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.booking.test_checkout import checkout
from tests.identity.helpers import PASSWORD, auth, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_each_consent_is_recorded_with_its_wording_and_source(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        ada = await sign_up(
            client,
            platform,
            "ada@example.org",
            marketing_consent=True,
            consent_version="newsletter-v3",
        )
        clock.advance(minutes=1)
        refused = await client.patch(
            "/api/v1/me", headers=auth(ada), json={"consent_version": "no spaces allowed"}
        )
        assert refused.status_code == 400, refused.text
        withdrawn = await client.patch(
            "/api/v1/me", headers=auth(ada), json={"marketing_consent": False}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["marketing_consent"] is False

        consents = (await client.get("/api/v1/me/data", headers=auth(ada))).json()["consents"]
        assert [(c["purpose"], c["granted"], c["text_version"], c["source"]) for c in consents] == [
            ("marketing", True, "newsletter-v3", "sign-up"),
            ("marketing", False, MARKETING_TEXT_VERSION, "account"),
        ]
        assert consents[1]["recorded_at"] > consents[0]["recorded_at"], "when each was said"

        erased = await client.post(
            "/api/v1/me/erase", headers=auth(ada), json={"password": PASSWORD}
        )
        assert erased.status_code == 200, erased.text
    async with platform.db.read() as session:
        kept = list(await session.scalars(select(ConsentRecord)))
    assert len(kept) == 2, "the proof stays"
    assert {record.address for record in kept} == {f"{erased.json()['reference']}@erased.invalid"}


async def count(platform: Platform, model: Any) -> int:
    async with platform.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_regions_retention_periods_apply_after_the_event(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """The eu pack keeps check-ins a year and sales ten years after the event."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        sold = await checkout(
            client,
            store,
            email="ada@example.org",
            buyer={"name": "Ada Lovelace", "email": "ada@example.org", "phone": "+4915112345678"},
        )
        number = sold.json()["number"]
        paid = await client.post(f"{base}/orders/{number}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        await platform.dispatcher.run_until_idle()
    async with platform.db.transaction() as session:
        door = CheckinList(event_id=store.event.id, name="Main door", created_at=clock.now())
        session.add(door)
        await session.flush()
        tickets = await session.scalars(select(OrderItem.id))
        for ticket in tickets:
            session.add(Checkin(list_id=door.id, ticket_id=ticket, scanned_at=clock.now()))
    regions = platform.router.enabled_regions()

    async def maintain(**later: float) -> None:
        clock.set(store.event.ends_at)
        clock.advance(**later)
        await run_maintenance(platform.db, platform.clock, regions)

    await maintain(days=364)
    assert await count(platform, Checkin) == 2, "within the year: kept"
    await maintain(days=366)
    assert await count(platform, Checkin) == 0, "a year after the event: gone"
    assert await count(platform, CheckinList) == 1, "the door's configuration stays"
    async with platform.db.read() as session:
        order = (await session.scalars(select(Order))).one()
        assert order.buyer_name == "Ada Lovelace", "sales are kept longer"

    await maintain(days=3654)
    await maintain(days=3655)  # a second round finds nothing more to do
    async with platform.db.read() as session:
        order = (await session.scalars(select(Order))).one()
        items = list(await session.scalars(select(OrderItem)))
        invoice = (await session.scalars(select(Invoice))).one()
    assert (order.status, order.total_minor, invoice.total_minor) == ("confirmed", 5000, 5000)
    assert invoice.data["taxes"][0]["amount"]["minor"] == 798, "the taxes stay"
    everything = json.dumps(
        [order.buyer_name, order.buyer_email, order.buyer_phone, invoice.data]
        + [(i.attendee_name, i.attendee_email) for i in items]
    )
    for trace in ("Ada", "Lovelace", "ada@example.org", "+4915112345678"):
        assert trace not in everything, trace


async def test_a_copy_as_a_job_with_a_link(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, _, _ = await organizer_shop(client, platform, clock)
        ada = await sign_up(client, platform, "ada@example.org")
        sold = await checkout(client, store, email="ada@example.org")
        assert sold.status_code == 201, sold.text
        asked = await client.post("/api/v1/me/data-exports", headers=auth(ada))
        assert asked.status_code == 202, asked.text
        job = asked.json()
        assert (job["status"], job["download"]) == ("pending", None)
        status = f"/api/v1/me/data-exports/{job['id']}"
        assert (await client.get(status, headers=auth(ada))).json()["status"] == "pending"

        await platform.dispatcher.run_until_idle()
        ready = (await client.get(status, headers=auth(ada))).json()
        assert ready["status"] == "ready", ready
        link = ready["download"]
        assert link.startswith(f"{status}/download?secret=")
        copy = await client.get(link)  # a link: no sign-in
        assert copy.status_code == 200, copy.text
        assert "attachment" in copy.headers["content-disposition"]
        data = copy.json()
        assert data["account"]["email"] == "ada@example.org"
        assert [o["number"] for o in data["orders"]] == [sold.json()["number"]]

        bob = await sign_up(client, platform, "bob@example.org")
        assert (await client.get(status, headers=auth(bob))).status_code == 404, "not his"
        forged = await client.get(f"{status}/download", params={"secret": "x" * 24})
        assert forged.status_code == 404, forged.text
        for _ in range(2):
            assert (
                await client.post("/api/v1/me/data-exports", headers=auth(ada))
            ).status_code == 202
        too_many = await client.post("/api/v1/me/data-exports", headers=auth(ada))
        assert too_many.status_code == 429, too_many.text

        clock.advance(days=8)
        await run_maintenance(platform.db, platform.clock)
        assert (await client.get(link)).status_code == 404, "a week later the file is gone"
        async with platform.db.read() as session:
            export = await session.get(DataExport, uuid.UUID(job["id"]))
            assert export is not None
            assert (export.status, export.content) == ("expired", None)


async def test_ended_sessions_go_after_the_shortest_period_of_the_enabled_regions(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """Every bundled pack keeps ended sessions 30 days: a sign-out 31 days ago goes with its
    refresh tokens; a session in use stays."""
    async with make_client(platform) as client:
        ada = await sign_up(client, platform, "ada@example.org")
        out = await client.post("/api/v1/auth/logout", headers=auth(ada))
        assert out.status_code == 204, out.text
        clock.advance(days=31)
        bob = await sign_up(client, platform, "bob@example.org")
        assert await count(platform, AuthSession) == 2
        await run_maintenance(platform.db, platform.clock, platform.router.enabled_regions())
        assert await count(platform, AuthSession) == 1
        assert (await client.get("/api/v1/me", headers=auth(bob))).status_code == 200
    async with platform.db.read() as session:
        tokens = list(await session.scalars(select(RefreshToken.session_id)))
        [kept] = await session.scalars(select(AuthSession.id))
    assert set(tokens) == {kept}, "the ended session's refresh tokens went with it"
