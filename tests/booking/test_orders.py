"""Orders over HTTP on both engines: pricing with the region's tax, attendees and answers,
the buyer's secret link and calendar, limits, cancellation that returns capacity exactly
once, expiry of unpaid orders, confirmation by the organizer, and event cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import icalendar
import pytest
from sqlalchemy import select

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, counts, organizer_shop, shop
from tests.identity.helpers import auth, mail_to, organization, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def journal(platform: Platform, entry_type: str) -> list[dict[str, Any]]:
    async with platform.db.read() as session:
        rows = await session.scalars(
            select(JournalEntryRow)
            .where(JournalEntryRow.type == entry_type)
            .order_by(JournalEntryRow.position)
        )
        return [row.data for row in rows]


async def test_an_order_is_priced_with_the_regions_tax_and_seen_by_its_secret_link(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Adult": 2500, "Child": 999},
        quotas={"Hall": (10, ["Adult", "Child"])},
    )
    async with make_client(platform) as client:
        buyer = Buyer(client, store)
        hold = (await buyer.hold(Adult=2, Child=1)).json()
        attendees = [{"name": "Ada"}, {"name": "Bob", "email": "Bob@Example.org"}, {"name": "Cy"}]
        placed = await buyer.order(hold, attendees=attendees)
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "pending"
        assert len(order["number"]) == 10
        assert order["expires_at"] == hold["expires_at"], "the hold's deadline carries over"
        breakdown = order["breakdown"]
        # Germany, 19 % VAT included in the price, rounded once per line (half up).
        assert [line["tax"]["minor"] for line in breakdown["lines"]] == [798, 160]
        assert breakdown["taxes"] == [
            {
                "name": "VAT",
                "country": "DE",
                "percent": "19",
                "inclusive": True,
                "amount": {"minor": 958, "currency": "EUR"},
                "jurisdiction": "DE",
            }
        ]
        assert order["total"] == {"minor": 5999, "currency": "EUR"}
        assert [t["attendee_name"] for t in order["tickets"]] == ["Ada", "Bob", "Cy"]
        assert [t["price"]["minor"] for t in order["tickets"]] == [2500, 2500, 999]
        assert order["tickets"][1]["attendee_email"] == "bob@example.org"
        assert order["link"] == (
            f"https://tickets.example.test/orders/{order['number']}?secret={order['secret']}"
        )
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 3)

        again = await buyer.order(hold)
        assert again.status_code == 409
        assert again.json()["rule"] == "hold_ordered"

        seen = await client.get(
            f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
        )
        assert seen.status_code == 200
        assert seen.json()["breakdown"] == breakdown
        lower = await client.get(
            f"/api/v1/orders/{order['number'].lower()}", params={"secret": order["secret"]}
        )
        assert lower.status_code == 200
        for secret in ("wrong", hold["secret"]):
            stranger = await client.get(
                f"/api/v1/orders/{order['number']}", params={"secret": secret}
            )
            assert stranger.status_code == 404

        ics = await client.get(
            f"/api/v1/orders/{order['number']}/calendar.ics", params={"secret": order["secret"]}
        )
        assert ics.status_code == 200
        assert ics.headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(ics.content)
        (entry,) = calendar.walk("VEVENT")
        assert str(entry["uid"]) == f"{store.event.id}-{order['number']}@boxoffice"
        assert order["number"] in str(entry["summary"])
        assert "3 ticket(s)" in str(entry["description"])
        assert entry.decoded("dtstart") == store.event.starts_at
        assert str(entry["url"]) == order["link"]
        assert (
            await client.get(
                f"/api/v1/orders/{order['number']}/calendar.ics", params={"secret": "nope"}
            )
        ).status_code == 404
    placed_entries = await journal(platform, "OrderPlaced")
    assert [(e["number"], e["total_minor"]) for e in placed_entries] == [(order["number"], 5999)]


async def test_a_free_order_confirms_at_once_and_mails_the_link(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, types={"Free": 0})
    async with make_client(platform) as client:
        order = await Buyer(client, store, email="Free@Example.org").buy(Free=2)
        assert order["status"] == "confirmed"
        assert order["total"]["minor"] == 0
        assert order["breakdown"]["tax"]["minor"] == 0
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)
        (mail,) = await mail_to(platform, "free@example.org", "order-confirmed")
        assert order["number"] in mail["subject"]
        assert order["link"] in mail["text"]
    assert [e["via"] for e in await journal(platform, "OrderConfirmed")] == ["free"]


async def test_questions_are_asked_per_ticket_type_and_answers_checked(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Adult": 1000, "Child": 500},
            quotas={"Hall": (10, ["Adult", "Child"])},
        )
        meal = (
            await client.post(
                f"{base}/questions",
                headers=headers,
                json={
                    "label": "Meal",
                    "kind": "choice",
                    "options": ["Fish", "Veggie"],
                    "required": True,
                    "ticket_types": [str(store.types["Adult"])],
                },
            )
        ).json()
        photo = (
            await client.post(
                f"{base}/questions",
                headers=headers,
                json={"label": "Photos OK?", "kind": "checkbox"},
            )
        ).json()
        bad = await client.post(
            f"{base}/questions",
            headers=headers,
            json={"label": "x", "kind": "choice", "options": ["one"]},
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["field"] == "options"
        public = await client.get(f"/api/v1/events/{store.event.id}/questions")
        assert [q["label"] for q in public.json()] == ["Meal", "Photos OK?"]

        buyer = Buyer(client, store)
        hold = (await buyer.hold(Adult=1, Child=1)).json()
        missing = await buyer.order(hold)
        assert missing.status_code == 400
        assert [e["field"] for e in missing.json()["errors"]] == [
            f"attendees[0].answers.{meal['id']}"
        ]
        wrong = await buyer.order(
            hold,
            attendees=[
                {"name": "Ada", "answers": {meal["id"]: "Steak", photo["id"]: "yes"}},
                {"name": "Kid", "answers": {meal["id"]: "Fish"}},
            ],
        )
        assert {e["field"] for e in wrong.json()["errors"]} == {
            f"attendees[0].answers.{meal['id']}",
            f"attendees[0].answers.{photo['id']}",
        }
        count = await buyer.order(hold, attendees=[{"name": "Ada"}])
        assert count.json()["rule"] == "one_attendee_per_ticket"
        placed = await buyer.order(
            hold,
            attendees=[
                {"name": "Ada", "answers": {meal["id"]: "Veggie", photo["id"]: True}},
                {"name": "Kid", "answers": {}},
            ],
        )
        assert placed.status_code == 201, placed.text
        tickets = placed.json()["tickets"]
        assert tickets[0]["answers"] == {meal["id"]: "Veggie", photo["id"]: True}
        assert tickets[1]["answers"] == {}
        seen = await client.get(f"{base}/orders/{placed.json()['number']}", headers=headers)
        assert seen.json()["tickets"][0]["answers"][meal["id"]] == "Veggie"
        assert seen.json()["secret"] is None, "organizers do not get the buyer's link"


async def test_per_buyer_limit_counts_live_orders_only(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, max_tickets_per_buyer=3)
    async with make_client(platform) as client:
        buyer = Buyer(client, store, email="fan@example.org")
        first = await buyer.buy(Standard=2)
        hold = (await buyer.hold(Standard=2)).json()
        refused = await buyer.order(hold)
        assert refused.status_code == 422
        assert refused.json()["rule"] == "max_per_buyer"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 4), "hold kept"
        assert (await Buyer(client, store, email="FAN@example.org").order(hold)).status_code == 422
        cancelled = await client.post(
            f"/api/v1/orders/{first['number']}/cancel", json={"secret": first["secret"]}
        )
        assert cancelled.json()["status"] == "cancelled"
        assert (await buyer.order(hold)).status_code == 201


async def test_cancelling_returns_capacity_exactly_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=3)
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 3)
        url = f"/api/v1/orders/{order['number']}/cancel"
        body = {"secret": order["secret"], "reason": "plans changed"}
        # The same request sent twice at once, and again later: seats come back once.
        responses = await asyncio.gather(client.post(url, json=body), client.post(url, json=body))
        assert [r.status_code for r in responses] == [200, 200]
        assert (await client.post(url, json=body)).json()["status"] == "cancelled"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        keyed = {"idempotency-key": "cancel-1"}
        assert (await client.post(url, json=body, headers=keyed)).status_code == 200
        replay = await client.post(url, json=body, headers=keyed)
        assert replay.headers["idempotent-replayed"] == "true"
    cancelled = await journal(platform, "OrderCancelled")
    assert [(e["by"], e["refund_minor"]) for e in cancelled] == [("buyer", 0)]
    released = await journal(platform, "CapacityReleased")
    assert [e["seats"] for e in released] == [3]


async def test_paid_orders_follow_the_refund_policy_and_organizers_cancel_any(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        order = await Buyer(client, store).buy(Standard=2)
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.json()["status"] == "confirmed"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)
        again = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert again.json()["status"] == "confirmed"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)

        by_buyer = await client.post(
            f"/api/v1/orders/{order['number']}/cancel", json={"secret": order["secret"]}
        )
        assert by_buyer.status_code == 422
        assert by_buyer.json()["rule"] == "refund_policy"

        listed = await client.get(f"{base}/orders", headers=headers, params={"limit": 1})
        assert [o["number"] for o in listed.json()["items"]] == [order["number"]]
        for q, hits in (("ADA b", 1), (order["number"].lower(), 1), ("%", 0), ("r@ex", 1)):
            found = await client.get(f"{base}/orders", headers=headers, params={"q": q})
            assert len(found.json()["items"]) == hits, q
        cancelled = await client.post(
            f"{base}/orders/{order['number']}/cancel",
            headers=headers,
            json={"reason": "double booking"},
        )
        assert cancelled.json()["status"] == "cancelled"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        invalid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert invalid.status_code == 409
        assert invalid.json()["type"].endswith("/invalid-transition")

        other = await sign_up(client, platform, "rival@example.org")
        rival = (await organization(client, other, "rival"))["id"]
        for path in (f"{base}/orders", f"{base}/orders/{order['number']}"):
            assert (await client.get(path, headers=auth(other))).status_code == 404
            assert (
                await client.get(
                    path.replace(base.split("/events")[0], f"/api/v1/organizations/{rival}"),
                    headers=auth(other),
                )
            ).status_code == 404
    cancelled_entries = await journal(platform, "OrderCancelled")
    assert [(e["by"], e["refund_minor"]) for e in cancelled_entries] == [("organizer", 5000)]


async def test_buyers_cancel_paid_orders_until_the_refund_deadline(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, refund_deadline_hours=48
        )
        buyer = Buyer(client, store)
        early, late = await buyer.buy(Standard=1), await buyer.buy(Standard=1)
        for order in (early, late):
            await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        ok = await client.post(
            f"/api/v1/orders/{early['number']}/cancel", json={"secret": early["secret"]}
        )
        assert ok.json()["status"] == "cancelled"
        clock.advance(days=9)  # the event starts in 24 hours: past the 48-hour deadline
        closed = await client.post(
            f"/api/v1/orders/{late['number']}/cancel", json={"secret": late["secret"]}
        )
        assert closed.json()["rule"] == "refund_deadline"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 1, 0)


async def test_an_unpaid_order_expires_and_a_late_payment_retakes_free_seats(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock, hold_ttl_seconds=120)
        buyer = Buyer(client, store)
        order = await buyer.buy(Standard=4)
        assert order["status"] == "pending"
        clock.advance(minutes=2)
        assert await sweep_until_done(platform.db, platform.clock) == 1
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        seen = await client.get(
            f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
        )
        assert seen.json()["status"] == "expired"
        # Paid late (the bank transfer arrived): the seats are still free, so it stands.
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.json()["status"] == "confirmed", paid.text
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 4, 0)

        second = await buyer.buy(Standard=4)
        clock.advance(minutes=2)
        await sweep_until_done(platform.db, platform.clock)
        await Buyer(client, store, email="other@example.org").buy(Standard=6)
        refused = await client.post(f"{base}/orders/{second['number']}/mark-paid", headers=headers)
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("/sold-out")
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 4, 6), "never oversold"


async def test_cancelling_the_event_cancels_every_order(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        pending = await Buyer(client, store).buy(Standard=1)
        paid = await Buyer(client, store, email="b@example.org").buy(Standard=2)
        await client.post(f"{base}/orders/{paid['number']}/mark-paid", headers=headers)
        response = await client.post(
            f"{base}/status", headers=headers, json={"status": "cancelled"}
        )
        assert response.status_code == 200, response.text
        await platform.dispatcher.run_until_idle()
        for order in (pending, paid):
            seen = await client.get(
                f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
            )
            assert seen.json()["status"] == "cancelled"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        assert (await Buyer(client, store).hold(Standard=1)).json()["rule"] == "event_status"
    refunds = {e["number"]: e["refund_minor"] for e in await journal(platform, "OrderCancelled")}
    assert refunds == {pending["number"]: 0, paid["number"]: 5000}


async def test_idempotency_keys_replay_the_first_response(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        buyer = Buyer(client, store)
        key = {"idempotency-key": "9b2f1c7e-hold"}
        first = await buyer.hold(headers=key, Standard=2)
        again = await buyer.hold(headers=key, Standard=2)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 2)
        reused = await buyer.hold(headers=key, Standard=3)
        assert reused.status_code == 422
        assert reused.json()["type"].endswith("/idempotency-key-reused")

        # Racing copies of one request: one hold.
        racing = {"idempotency-key": "race-1"}
        results = await asyncio.gather(*[buyer.hold(headers=racing, Standard=1) for _ in range(4)])
        assert {r.status_code for r in results} == {201}
        assert len({r.json()["id"] for r in results}) == 1
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 3)

        order_key = {"idempotency-key": "order-1"}
        hold = first.json()
        placed = [await buyer.order(hold, headers=order_key) for _ in range(2)]
        assert placed[0].json()["number"] == placed[1].json()["number"]
        too_long = {"idempotency-key": "k" * 201}
        assert (await buyer.hold(headers=too_long, Standard=1)).status_code == 400


async def test_refunding_tickets_one_by_one_returns_each_seat_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Adult": 4000, "VIP": 9000},
            quotas={"Hall": (10, ["Adult", "VIP"]), "Boxes": (2, ["VIP"])},
        )
        order = await Buyer(client, store).buy(Adult=2, VIP=1)
        await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        vip = next(t for t in order["tickets"] if t["ticket_type_id"] == str(store.types["VIP"]))
        url = f"{base}/orders/{order['number']}/refund"
        body = {"ticket_ids": [vip["id"]], "reason": "seat broken"}
        for _ in range(2):  # sent twice: refunded once
            refunded = await client.post(url, headers=headers, json=body)
            assert refunded.status_code == 200, refunded.text
        assert refunded.json()["refunded"]["minor"] == 9000
        assert refunded.json()["status"] == "confirmed"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)
        assert await counts(platform.db, store.quotas["Boxes"]) == (2, 0, 0)
        await assert_books_balance(platform.db)
        rest = [t["id"] for t in order["tickets"] if t["id"] != vip["id"]]
        done = (await client.post(url, headers=headers, json={"ticket_ids": rest})).json()
        assert (done["status"], done["refunded"]["minor"]) == ("refunded", 17000)
        assert {t["status"] for t in done["tickets"]} == {"refunded"}
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        stranger = await client.post(
            url, headers=headers, json={"ticket_ids": [str(store.event.id)]}
        )
        assert stranger.status_code == 409  # the order is refunded: nothing left to refund
    refunds = await journal(platform, "OrderRefunded")
    assert [(e["refund_minor"], e["complete"]) for e in refunds] == [(9000, False), (8000, True)]
