"""Many buyers at once for fewer seats, on both engines: in one process (asyncio), and from
several real server processes sharing one database — one of them killed mid-flood. Capacity
is never oversold, every refused buyer hears a clear "sold out", the counters always equal
what holds and orders account for, and nothing stays held after expiry."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from boxoffice.core.booking.models import Hold, Order
from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.core.storage import Database, create_engine
from boxoffice.platform import Platform
from boxoffice.testing import ServerProcesses
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def _refusal_is_clear(response: httpx.Response) -> bool:
    problem = response.json()
    return (
        response.status_code == 409
        and problem["type"].endswith("/sold-out")
        and problem["rule"] == "capacity"
        and "not enough seats" in problem["detail"]
    )


async def _expire_everything(db: Database, clock: ManualClock) -> None:
    clock.advance(hours=1)
    await sweep_until_done(db, clock)
    async with db.read() as session:
        active = await session.scalar(
            select(func.count()).select_from(Hold).where(Hold.status == "active")
        )
        pending = await session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "pending")
        )
    assert (active, pending) == (0, 0), "nothing is held after expiry"


async def test_concurrent_buyers_in_one_process(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Adult": 3000, "Child": 1000, "VIP": 9000},
        quotas={"Hall": (25, ["Adult", "Child", "VIP"]), "Boxes": (4, ["VIP"])},
    )
    rng = random.Random(5)
    wishes = [{rng.choice(["Adult", "Child", "VIP"]): rng.randint(1, 3)} for _ in range(50)]
    async with make_client(platform) as client:

        async def buyer(index: int) -> tuple[httpx.Response, httpx.Response | None]:
            person = Buyer(client, store, email=f"buyer{index}@example.org")
            held = await person.hold(**wishes[index])
            if held.status_code != 201:
                return held, None
            return held, await person.order(held.json())

        results = await asyncio.gather(*[buyer(i) for i in range(len(wishes))])
    wanted = sum(n for wish in wishes for n in wish.values())
    assert wanted > 25, "demand exceeds supply"
    held = [h for h, _ in results if h.status_code == 201]
    refused = [h for h, _ in results if h.status_code != 201]
    assert refused, "some buyers were turned away"
    assert all(_refusal_is_clear(r) for r in refused), [r.text for r in refused]
    assert all(o is not None and o.status_code == 201 for h, o in results if h in held)
    books = await assert_books_balance(platform.db)
    hall = books[str(store.quotas["Hall"])]
    assert hall[2] == sum(i["quantity"] for h in held for i in h.json()["items"])
    assert hall[2] > 25 - 3, "seats were not left unsold while buyers were refused"
    await _expire_everything(platform.db, clock)
    assert all(held == 0 for _, _, held in (await assert_books_balance(platform.db)).values())


async def test_one_hold_becomes_one_order_however_many_race_for_it(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """Twelve tabs submit the same hold at once, each as a different buyer: the hold's
    conditional take decides among the order's writes, so exactly one order is placed and
    every other tab hears that the hold is already an order (on PostgreSQL they race on the
    row; on SQLite they queue for the writer)."""
    store = await shop(platform.db, clock, quotas={"Hall": (10, ["Standard"])})
    async with make_client(platform) as client:
        held = await Buyer(client, store).hold(Standard=2)
        assert held.status_code == 201, held.text
        answers = await asyncio.gather(
            *[
                Buyer(client, store, email=f"tab{index}@example.org").order(held.json())
                for index in range(12)
            ]
        )
    placed = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(placed) == 1, [a.text for a in answers]
    assert {(a.status_code, a.json()["rule"]) for a in refused} == {(409, "hold_ordered")}
    async with platform.db.read() as session:
        orders = (await session.execute(select(Order.buyer_email, Order.tickets))).all()
    assert [tuple(o) for o in orders] == [(placed[0].json()["buyer_email"], 2)]
    books = await assert_books_balance(platform.db)
    assert books[str(store.quotas["Hall"])] == (10, 0, 2), "the two seats are held once"


async def test_several_server_processes_on_one_database(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """Three real servers, 90 buyers for 30 seats (half of them checking out in one request,
    half holding then ordering); one server is killed mid-flood."""
    db = Database(create_engine(db_url))
    try:
        store = await shop(db, clock, quotas={"Hall": (30, ["Standard"])})
        plugins = tmp_path / "plugins.toml"
        plugins.write_text(factories.PLUGINS_TOML)
        env = {
            "BOXOFFICE_DATABASE_URL": db_url,
            "BOXOFFICE_DATA_DIR": str(tmp_path / "data"),
            "BOXOFFICE_PLUGINS_FILE": str(plugins),
            "BOXOFFICE_SECRET_KEY": "multi-process-test-secret-0123456789abcdef",
        }
        servers = ServerProcesses(3, env)
        with servers as urls:
            ticket = str(store.types["Standard"])
            limits = httpx.Limits(max_connections=30)
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                finished = 0
                under_way = asyncio.Event()

                async def buyer(index: int) -> tuple[str, str]:
                    nonlocal finished
                    try:
                        return await buy(index)
                    finally:
                        finished += 1
                        if finished == 20:
                            under_way.set()

                async def buy(index: int) -> tuple[str, str]:
                    base = urls[index % len(urls)]
                    buyer = {"name": "B", "email": f"b{index}@example.org"}
                    items = [{"ticket_type_id": ticket, "quantity": 1}]
                    try:
                        if index % 2:  # half the buyers check out in one request
                            placed = await client.post(
                                f"{base}/api/v1/events/{store.event.id}/orders",
                                json={"items": items, "buyer": buyer},
                            )
                            if placed.status_code != 201:
                                assert _refusal_is_clear(placed), placed.text
                                return "sold-out", ""
                            return "ordered", placed.json()["number"]
                        held = await client.post(
                            f"{base}/api/v1/events/{store.event.id}/holds",
                            json={"items": [{"ticket_type_id": ticket, "quantity": 1}]},
                        )
                        if held.status_code != 201:
                            assert _refusal_is_clear(held), held.text
                            return "sold-out", ""
                        hold = held.json()
                        placed = await client.post(
                            f"{base}/api/v1/holds/{hold['id']}/order",
                            json={"secret": hold["secret"], "buyer": buyer},
                        )
                    except httpx.TransportError:
                        return "cut-off", ""  # the killed server's buyers
                    assert placed.status_code == 201, placed.text
                    return "ordered", placed.json()["number"]

                async def killer() -> tuple[str, str]:
                    await under_way.wait()
                    servers.kill(2)
                    return "killer", ""

                outcomes = await asyncio.gather(*[buyer(i) for i in range(90)], killer())
        kinds = [kind for kind, _ in outcomes]
        assert kinds.count("sold-out") > 0, kinds
        assert kinds.count("cut-off") > 0, "the kill landed mid-flood"
        # Demand outran supply and nothing was released: every seat is held, none twice.
        books = await assert_books_balance(db)
        assert books[str(store.quotas["Hall"])] == (30, 0, 30)
        # Every order a buyer was told about exists (the killed server's committed ones too).
        confirmed_to_buyers = {number for kind, number in outcomes if kind == "ordered"}
        async with db.read() as session:
            stored = set(await session.scalars(select(Order.number)))
        assert confirmed_to_buyers <= stored
        await _expire_everything(db, clock)
        assert (await assert_books_balance(db))[str(store.quotas["Hall"])] == (30, 0, 0)
    finally:
        await db.close()
