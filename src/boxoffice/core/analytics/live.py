"""What a live dashboard shows (``…/analytics/live``): an event's summary, read at most once
per ``fresh_for`` seconds in a process however many dashboards watch that event.

Why: a summary is half a dozen queries (capacity, revenue, the funnel, check-ins, the
waiting list), and every open dashboard asks for it every second. During an on-sale the
whole box office may watch one event: twenty dashboards were a hundred and twenty queries a
second. Now the first dashboard to ask reads, the others that ask while that read runs or
while its answer is fresh share it. The answer depends on the event only, never on who
watches (who may watch was decided when the stream opened).
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

import msgspec

from boxoffice.core.analytics import reports
from boxoffice.core.catalog.models import Event
from boxoffice.core.storage import Database

#: How often a live dashboard's figures are read again.
LIVE_SECONDS = 1.0
#: Above this many remembered reads, the stale ones are forgotten.
REMEMBERED = 256


class LiveSummaries:
    def __init__(self, db: Database, fresh_for: float = LIVE_SECONDS) -> None:
        self.db, self.fresh_for = db, fresh_for
        #: (event loop, event id) -> (when the read began, the read).
        self._reads: dict[
            tuple[asyncio.AbstractEventLoop, uuid.UUID], tuple[float, asyncio.Task[bytes]]
        ] = {}

    async def payload(self, event: Event) -> bytes:
        """The event's summary as JSON, no older than ``fresh_for`` seconds."""
        loop = asyncio.get_running_loop()
        now, key = loop.time(), (loop, event.id)
        found = self._reads.get(key)
        if found is None or now - found[0] >= self.fresh_for:
            if len(self._reads) >= REMEMBERED:
                self._forget_stale(now)
            read = loop.create_task(self._read(event))
            read.add_done_callback(_retrieved)
            found = self._reads[key] = (now, read)
        # Shielded: a dashboard that goes away mid-read does not cancel the others' read.
        return await asyncio.shield(found[1])

    async def _read(self, event: Event) -> bytes:
        async with self.db.read() as session:
            return msgspec.json.encode(await reports.summary(session, event))

    def _forget_stale(self, now: float) -> None:
        for key, (began, read) in list(self._reads.items()):
            if read.done() and now - began >= self.fresh_for:
                del self._reads[key]


def _retrieved(read: asyncio.Task[bytes]) -> None:
    """A failed read whose every reader went away is not an error to log as unretrieved:
    the next dashboard's read tries again."""
    with suppress(asyncio.CancelledError, Exception):
        read.exception()
