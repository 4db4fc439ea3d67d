"""Event page views: counted in each API process's memory, added to the database every few
seconds with one upsert (a view is a read: writing one per request would put a write on the
busiest read path). A view costs a dictionary increment; its 15-minute slot is the one the
flush falls in (so a view within :data:`FLUSH_SECONDS` of a slot's end may count in the
next). Views are not journal entries, so a projection rebuild leaves them. Only answered
views count (status 200): a scan of made-up event ids adds nothing."""

from __future__ import annotations

import asyncio
import uuid

from boxoffice.core.analytics.models import PageViews
from boxoffice.core.analytics.projection import slot
from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.clock import Clock
from boxoffice.core.storage import Database, conflict_insert, table_of
from boxoffice.logs import get_logger

log = get_logger(__name__)

_VIEWS = table_of(PageViews)
FLUSH_SECONDS = 10.0


class PageViewCounter:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._counts: dict[uuid.UUID, int] = {}

    def count(self, event_id: uuid.UUID) -> None:
        counts = self._counts
        counts[event_id] = counts.get(event_id, 0) + 1

    def count_many(self, event_id: uuid.UUID, views: int) -> None:
        self._counts[event_id] = self._counts.get(event_id, 0) + views

    async def flush(self, db: Database) -> int:
        """Add the views counted so far; returns how many. Counts a failed write put back."""
        counts, self._counts = self._counts, {}
        if not counts:
            return 0
        bucket = slot(self.clock.now())
        statement = conflict_insert(db.dialect, _VIEWS)
        statement = statement.on_conflict_do_update(
            index_elements=["event_id", "bucket"],
            set_={"views": _VIEWS.c.views + statement.excluded.views},
        )
        rows = [{"event_id": e, "bucket": bucket, "views": n} for e, n in counts.items()]
        try:
            async with db.transaction() as session:
                await session.execute(statement, rows)
        except Exception:
            for event_id, views in counts.items():
                self.count_many(event_id, views)
            raise
        return sum(counts.values())

    async def flush_forever(self, db: Database) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush(db)
            except Exception:
                stop_if_cancelled()
                log.exception("analytics.page_views_flush_failed")
