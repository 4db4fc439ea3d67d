"""Live dashboards (``…/analytics/live``) on both engines: the dashboards watching one event
share one read of its summary a second, however many there are, and one that goes away in
the middle of a read does not spoil it for the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest

from boxoffice.core.analytics import live, reports
from boxoffice.core.analytics.live import LiveSummaries
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop


async def test_the_dashboards_of_one_event_share_one_read_a_second(
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform: Platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    async with make_client(platform) as client:
        store, _, _ = await organizer_shop(client, platform, clock)
        await Buyer(client, store).buy(Standard=2)
    async with platform.db.read() as session:
        event = await session.get(Event, store.event.id)
        assert event is not None
        expected = msgspec.to_builtins(await reports.summary(session, event))

    reads: list[object] = []
    summary = reports.summary

    async def counted(session: Any, event: Event) -> Any:
        reads.append(event.id)
        await asyncio.sleep(0.05)  # a read takes a moment: dashboards arrive meanwhile
        return await summary(session, event)

    monkeypatch.setattr(live.reports, "summary", counted)
    summaries = LiveSummaries(platform.db, fresh_for=0.5)

    twenty = await asyncio.gather(*(summaries.payload(event) for _ in range(20)))
    assert len(reads) == 1, "twenty dashboards, one read"
    assert {json.loads(payload)["event_id"] for payload in twenty} == {str(event.id)}
    assert json.loads(twenty[0]) == expected
    assert await summaries.payload(event) == twenty[0]
    assert len(reads) == 1, "still fresh: no read"

    await asyncio.sleep(0.55)
    await asyncio.gather(*(summaries.payload(event) for _ in range(5)))
    assert len(reads) == 2, "stale: one more read for all of them"

    await asyncio.sleep(0.55)
    leaving = asyncio.create_task(summaries.payload(event))
    await asyncio.sleep(0.01)  # its read is under way
    staying = asyncio.create_task(summaries.payload(event))
    leaving.cancel()
    assert json.loads(await staying) == expected, "the read went on for the one who stayed"
    assert len(reads) == 3
