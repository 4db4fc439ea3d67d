"""Buyers' secrets are not at rest, on both engines: the database keeps hashes of the secrets
in order, hold and waiting-list links, stored idempotent responses are sealed by their key,
and a delivered message's body (which carries a link) is forgotten — yet every link works,
a replay gets its response back, and links survive a key rotation and the upgrade."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select, text

import boxoffice.core.models  # noqa: F401 - every table on Base.metadata
from boxoffice.core.clock import ManualClock
from boxoffice.core.idempotency import IdempotencyRecord, run_once
from boxoffice.core.links import LinkKind, LinkSecrets, secret_hash
from boxoffice.core.storage import Base, Database, create_engine
from boxoffice.migrations import downgrade, upgrade
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop, shop
from tests.identity.helpers import mail_to

OLD_KEY = "the-key-before-the-rotation-0123456789abcdef"


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def everything_stored(db: Database) -> str:
    """Every value in every table, as one text to search."""
    parts: list[str] = []
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                for value in row:
                    parts.append(value.hex() if isinstance(value, bytes) else str(value))
                    if isinstance(value, bytes):
                        parts.append(value.decode("latin-1"))
    return "\n".join(parts)


async def test_no_link_secret_or_stored_response_is_readable_in_the_database(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Standard": 2500, "Free": 0},
        quotas={"Hall": (3, ["Standard", "Free"])},
    )
    async with make_client(platform) as client:
        buyer = Buyer(client, store)
        hold = (await buyer.hold(Standard=1)).json()
        key = {"idempotency-key": str(uuid.uuid4())}
        placed = await buyer.order(hold, headers=key)
        assert placed.status_code == 201, placed.text
        order = placed.json()
        replay = await buyer.order(hold, headers=key)
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json()["secret"] == order["secret"], "the sealed response opens"
        free = await buyer.buy(Free=2)
        assert free["status"] == "confirmed"
        entry = (
            await client.post(
                f"/api/v1/events/{store.event.id}/waitlist",
                json={
                    "ticket_type_id": str(store.types["Standard"]),
                    "quantity": 1,
                    "name": "Wendy",
                    "email": "wendy@example.org",
                },
            )
        ).json()
        (mail,) = await mail_to(platform, "buyer@example.org", "order-confirmed")
        assert free["link"] in mail["text"], "the e-mail was sent with the link"

        stored = await everything_stored(platform.db)
        secrets = {
            "hold": hold["secret"],
            "order": order["secret"],
            "free order": free["secret"],
            "waiting-list entry": entry["secret"],
            "idempotency key": key["idempotency-key"],
        }
        for what, secret in secrets.items():
            assert secret not in stored, f"the {what}'s secret is stored"
        assert secret_hash(order["secret"]) in stored, "its hash is what is kept"

        # Every link still works, and only with its secret.
        seen = await client.get(f"/api/v1/orders/{order['number']}", params=order_secret(order))
        assert (seen.status_code, seen.json()["link"]) == (200, order["link"])
        wrong = await client.get(
            f"/api/v1/orders/{order['number']}", params={"secret": free["secret"]}
        )
        assert wrong.status_code == 404
        assert (
            await client.get(f"/api/v1/holds/{hold['id']}", params={"secret": hold["secret"]})
        ).status_code == 200
        assert (
            await client.get(f"/api/v1/waitlist/{entry['id']}", params={"secret": entry["secret"]})
        ).json()["status"] == "waiting"


def order_secret(order: dict[str, Any]) -> dict[str, str]:
    return {"secret": order["secret"]}


async def test_links_made_under_a_previous_key_keep_working_and_are_sent_again(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """After the secret key is rotated, an old link opens its order and the confirmation
    e-mail of an order made before the rotation carries that same link."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        before = await Buyer(client, store).buy(Standard=1)
    # The order was made under the test key; the operator rotates to a new one.
    rotated = Platform.build(
        msgspec.structs.replace(
            platform.settings,
            secret_key=OLD_KEY,
            previous_secret_keys=platform.settings.secret_key,
        ),
        clock=clock,
    )
    try:
        async with make_client(rotated) as client:
            seen = await client.get(
                f"/api/v1/orders/{before['number']}", params=order_secret(before)
            )
            assert seen.status_code == 200, seen.text
            paid = await client.post(f"{base}/orders/{before['number']}/mark-paid", headers=headers)
            assert paid.status_code == 200, paid.text
            (mail,) = await mail_to(rotated, "buyer@example.org", "order-confirmed")
            assert before["link"] in mail["text"]
            after = await Buyer(client, store).buy(Standard=1)
            assert secret_hash(after["secret"]) != secret_hash(before["secret"])
    finally:
        await rotated.close()


def test_a_secret_is_recovered_only_with_a_key_that_made_it() -> None:
    old, new = LinkSecrets([OLD_KEY]), LinkSecrets([OLD_KEY[::-1], OLD_KEY])
    link = old.new(LinkKind.ORDER)
    assert new.recover(LinkKind.ORDER, link.id, link.secret_hash) == link.secret
    assert new.recover(LinkKind.HOLD, link.id, link.secret_hash) is None, "kinds differ"
    assert LinkSecrets([OLD_KEY[::-1]]).recover(LinkKind.ORDER, link.id, link.secret_hash) is None


async def test_links_sent_before_the_upgrade_keep_working(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    """Revision 0016 replaces stored secrets by their hashes: a link e-mailed before it (a
    random secret, stored as it was) opens its order after it, and a stored response
    written before it (the key and the response as they came) is sealed and still replays."""
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    store = await shop(
        platform.db, clock, types={"Standard": 2500}, quotas={"Hall": (5, ["Standard"])}
    )
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
    migrating = Database(create_engine(platform.settings.resolved_database_url))
    try:
        await downgrade(migrating, "0015")
        async with migrating.transaction() as session:
            await session.execute(
                text("UPDATE booking_order SET secret = 'an-old-random-secret' WHERE number = :n"),
                {"n": order["number"]},
            )
            await session.execute(
                insert(IdempotencyRecord).values(
                    scope="legacy",
                    key="a-key-from-before",
                    fingerprint="f",
                    status_code=201,
                    body=b'{"kept": true}',
                    created_at=clock.now(),
                )
            )
        await upgrade(migrating)

        def not_again(_: Any) -> dict[str, bool]:
            raise AssertionError("a stored response must be replayed, not run again")

        replayed = await run_once(
            migrating,
            clock,
            key="a-key-from-before",
            scope="legacy",
            request_fingerprint="f",
            work=not_again,
            result_type=dict[str, bool],
            status_code=201,
        )
        assert (replayed.result, replayed.replayed) == ({"kept": True}, True)
        assert "a-key-from-before" not in await everything_stored(migrating)
    finally:
        await migrating.close()
    async with make_client(platform) as client:
        old = await client.get(
            f"/api/v1/orders/{order['number']}", params={"secret": "an-old-random-secret"}
        )
        assert old.status_code == 200, old.text
        assert old.json()["link"].endswith("secret=an-old-random-secret")
        assert (
            await client.get(f"/api/v1/orders/{order['number']}", params=order_secret(order))
        ).status_code == 404, "the downgrade could not keep the derived secret"
