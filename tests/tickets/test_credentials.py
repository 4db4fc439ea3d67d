"""Signed ticket credentials on both engines: what a QR code carries, checked offline with
the event's public keys; the public ticket page; reissue making the old credential useless;
and nothing forged, foreign or superseded opening a ticket."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from boxoffice.core.clock import ManualClock
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.core.tickets.credentials import TicketKeys, read_claim, verify_offline
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop, shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def public_keys(keys: dict[str, Any]) -> list[Ed25519PublicKey]:
    return [Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(k)) for k in keys["keys"]]


async def test_a_ticket_credential_is_checked_offline_and_opens_its_page(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (10, ["Free"])}
        )
        order = await Buyer(client, store).buy(Free=2)
        assert order["status"] == "confirmed"
        listed = await client.get(
            f"/api/v1/orders/{order['number']}/tickets", params={"secret": order["secret"]}
        )
        assert listed.status_code == 200, listed.text
        assert listed.headers["cache-control"] == "no-store"
        passes = listed.json()
        assert len(passes) == 2
        credential = passes[0]["credential"]

        keys = (await client.get(f"{base}/ticket-keys", headers=headers)).json()
        assert keys["algorithm"] == "Ed25519"
        assert verify_offline(credential, public_keys(keys)), "a scanner checks it offline"
        claim = read_claim(credential)
        assert claim is not None
        assert (claim.event_id, str(claim.ticket_id), claim.version) == (
            store.event.id,
            passes[0]["id"],
            1,
        )

        page = await client.get(passes[0]["page"])
        assert page.status_code == 200, page.text
        shown = page.json()
        assert (shown["status"], shown["event_title"], shown["ticket_type"]) == (
            "valid",
            "Jazz night",
            "Free",
        )
        assert shown["starts_at_local"].endswith("+01:00") or shown["starts_at_local"].endswith(
            "+02:00"
        ), "shown in the event's zone (Europe/Berlin)"
        qr = await client.get(passes[0]["qr"])
        assert qr.headers["content-type"].startswith("image/svg+xml")
        assert qr.content == segno.make(credential, error="m").svg_inline(scale=4).encode()

        # Forged, foreign and malformed credentials open nothing.
        raw = bytearray(base64.urlsafe_b64decode(credential))
        raw[-1] ^= 1
        forged = base64.urlsafe_b64encode(bytes(raw)).decode()
        assert not verify_offline(forged, public_keys(keys))
        assert (await client.get(f"/api/v1/tickets/{forged}")).status_code == 404
        assert (await client.get("/api/v1/tickets/not-a-ticket")).status_code == 404
        other = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
        foreign = (await Buyer(client, other, email="x@example.org").buy(Free=1))["number"]
        assert foreign
        other_keys = TicketKeys(["another-platform-key-0123456789abcdef"])
        stranger = other_keys.credential(store.event.id, uuid.UUID(passes[0]["id"]), 1)
        assert not verify_offline(stranger, public_keys(keys)), "another platform's signature"
        assert (await client.get(f"/api/v1/tickets/{stranger}")).status_code == 404


async def test_a_reissued_ticket_refuses_its_old_credential(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Free": 0},
        quotas={"Hall": (10, ["Free"])},
        refund_deadline_hours=1,  # buyers may cancel
    )
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Free=1)
        base = f"/api/v1/orders/{order['number']}"
        (old,) = (await client.get(f"{base}/tickets", params={"secret": order["secret"]})).json()
        wrong = await client.post(
            f"{base}/tickets/{old['id']}/reissue", json={"secret": "not-the-secret"}
        )
        assert wrong.status_code == 404
        new = await client.post(
            f"{base}/tickets/{old['id']}/reissue", json={"secret": order["secret"]}
        )
        assert new.status_code == 200, new.text
        assert new.json()["credential"] != old["credential"]
        assert read_claim(new.json()["credential"]).version == 2  # type: ignore[union-attr]
        refused = await client.get(old["page"])
        assert refused.status_code == 404
        assert "reissued" in refused.json()["detail"]
        assert (await client.get(new.json()["page"])).json()["version"] == 2
        listed = (await client.get(f"{base}/tickets", params={"secret": order["secret"]})).json()
        assert listed[0]["credential"] == new.json()["credential"]

        cancelled = await client.post(
            f"{base}/cancel", json={"secret": order["secret"], "reason": "cannot come"}
        )
        assert cancelled.status_code == 200, cancelled.text
        late = await client.post(
            f"{base}/tickets/{old['id']}/reissue", json={"secret": order["secret"]}
        )
        assert late.status_code == 409
        gone = (await client.get(f"{base}/tickets", params={"secret": order["secret"]})).json()
        assert gone[0]["credential"] is None, "a cancelled ticket has no credential"
        assert (await client.get(new.json()["page"])).json()["status"] == "cancelled"
    async with platform.db.read() as session:
        types = list(await session.scalars(select(JournalEntryRow.type)))
    assert types.count("TicketReissued") == 1


def test_credentials_drawn_before_a_key_rotation_still_verify() -> None:
    event, ticket = uuid.uuid4(), uuid.uuid4()
    before = TicketKeys(["old-platform-key-0123456789abcdefghij"])
    after = TicketKeys(
        ["new-platform-key-0123456789abcdefghij", "old-platform-key-0123456789abcdefghij"]
    )
    drawn = before.credential(event, ticket, 3)
    assert after.verify(drawn) == (event, ticket, 3)
    assert after.public_keys(event)[1] == before.public_keys(event)[0]
    assert after.credential(event, ticket, 3) != drawn, "new tickets are signed with the new key"
    assert TicketKeys(["unrelated-key-0123456789abcdefghijklmn"]).verify(drawn) is None


async def test_a_ticket_changes_hands_where_the_event_allows_it(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (10, ["Free"])}
        )
        order = await Buyer(client, store).buy(Free=2)
        tickets = f"/api/v1/orders/{order['number']}/tickets"
        old, _ = (await client.get(tickets, params={"secret": order["secret"]})).json()
        body = {
            "secret": order["secret"],
            "attendee_name": "Grace Hopper",
            "attendee_email": "Grace@Example.org",
        }
        refused = await client.post(f"{tickets}/{old['id']}/transfer", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["rule"] == "tickets_transferable"

        seen = (await client.get(base, headers=headers)).json()
        fields = set(factories.draft(clock).__struct_fields__)
        allowed = {k: v for k, v in seen.items() if k in fields and v is not None}
        changed = await client.put(
            base, json=allowed | {"tickets_transferable": True}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        moved = await client.post(f"{tickets}/{old['id']}/transfer", json=body)
        assert moved.status_code == 200, moved.text
        assert moved.json()["attendee_name"] == "Grace Hopper"
        assert (await client.get(old["page"])).status_code == 404, "the old holder's code"
        page = (await client.get(moved.json()["page"])).json()
        assert (page["attendee_name"], page["version"]) == ("Grace Hopper", 2)
        organizer_view = (
            await client.get(f"{base}/orders/{order['number']}", headers=headers)
        ).json()
        moved_ticket = next(t for t in organizer_view["tickets"] if t["id"] == old["id"])
        assert moved_ticket["attendee_email"] == "grace@example.org"
        bad = await client.post(
            f"{tickets}/{old['id']}/transfer", json=body | {"attendee_email": "nobody"}
        )
        assert bad.status_code == 400, bad.text
    async with platform.db.read() as session:
        types = list(await session.scalars(select(JournalEntryRow.type)))
    assert types.count("TicketTransferred") == 1
