"""A worker stopped by SIGTERM (``stop`` set) in the middle of its work, on both engines:
the subscriber it was serving is handed back (its cursor after the last entry it finished,
no lease left behind), the webhook deliveries it was sending are unclaimed, and a worker
started afterwards delivers what was in flight: nothing waits for a lease to expire, and
nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from boxoffice.core.clock import ManualClock
from boxoffice.core.journal import RecordedEntry
from boxoffice.core.journal.dispatcher import Dispatcher, Subscriber
from boxoffice.core.journal.models import JournalSubscriberRow
from boxoffice.core.webhooks.models import WebhookDelivery
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop
from tests.webhooks.test_webhooks import allow_private, register

PLACED = frozenset({"OrderPlaced"})


@asynccontextmanager
async def silent_receiver() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A real HTTP endpoint that takes the request and never answers: a delivery to it is in
    flight until the sender gives up or is stopped."""
    reached = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.set()
        await reader.read(-1)  # until the sender hangs up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hooks", reached
    finally:
        server.close()


async def test_graceful_stop_leaves_nothing_claimed_and_loses_nothing(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    platform: Platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    allow_private(platform, True)  # the receiver listens on loopback
    handled: list[str] = []
    second_started, never = asyncio.Event(), asyncio.Event()

    async def slow(entry: RecordedEntry) -> None:
        if len(handled) == 1:  # the second order: in flight when the worker is stopped
            second_started.set()
            await never.wait()
        handled.append(entry.data["number"])

    async with silent_receiver() as (url, reached), make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        org = base.split("/events/")[0]
        made = await register(client, org, headers, url, entry_types=["OrderPlaced"])
        assert made.status_code == 201, made.text
        numbers = [
            (await Buyer(client, store, f"b{n}@example.org").buy(Standard=1))["number"]
            for n in range(3)
        ]
        platform.dispatcher.subscribe(Subscriber("slow", slow, types=PLACED))
        stop = asyncio.Event()
        worker = asyncio.create_task(platform.run_background_work(stop))
        async with asyncio.timeout(30):
            await second_started.wait()
            await reached.wait()
        assert await claimed_deliveries(platform) == 3, "claimed together, before any POST"
        stop.set()
        async with asyncio.timeout(20):
            await worker

        async with platform.db.read() as session:
            leased = await session.scalars(
                select(JournalSubscriberRow.name).where(
                    JournalSubscriberRow.lease_owner.is_not(None)
                )
            )
            assert list(leased) == [], "a subscriber is still leased to the stopped worker"
        assert await claimed_deliveries(platform) == 0, "deliveries still claimed"
        async with platform.db.read() as session:
            states = list(await session.scalars(select(WebhookDelivery.status)))
        assert states == ["pending"] * 3, "unsent deliveries stay due, not failed"
        assert handled == numbers[:1]

        async def quick(entry: RecordedEntry) -> None:
            handled.append(entry.data["number"])

        restarted = Dispatcher(platform.db, clock, [Subscriber("slow", quick, types=PLACED)])
        await restarted.run_until_idle()
        assert handled == numbers, "the entry in flight and the rest come after a restart"


async def claimed_deliveries(platform: Platform) -> int:
    async with platform.db.read() as session:
        claimed = await session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.claimed_until.is_not(None))
        )
        return len(list(claimed))
