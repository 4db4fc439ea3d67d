"""What the background loops (journal dispatcher, sweeper, housekeeping) share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from boxoffice.logs import get_logger

log = get_logger(__name__)


def stop_if_cancelled() -> None:
    """Called where a loop survives a failed round: re-raise the cancellation if the task
    is being cancelled. A cancellation that lands inside database work can surface as
    another exception (the driver's cleanup fails on the interrupted connection); a loop
    that caught it as a mere failure would keep running past shutdown."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


#: How long a background loop that failed waits before it starts again: doubling from the
#: first to the last (a database restart takes seconds; an outage may take minutes).
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


async def keep_running(loop: Callable[[], Awaitable[None]], name: str) -> None:
    """Run ``loop()`` (a ``*_forever`` coroutine function) and start it again whenever it
    ends with an error, after a growing pause: a loop whose database went away mid-round
    (or that could not even begin: the listening connection refused) comes back by itself
    when the database does, instead of leaving its process running without it. A loop that
    ran for a minute starts again from the first delay."""
    failures = 0
    while True:
        started = time.monotonic()
        try:
            await loop()
            return
        except Exception:
            stop_if_cancelled()
            if time.monotonic() - started > 60:
                failures = 0
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures += 1
            log.warning("background.restarting", loop=name, seconds=delay, exc_info=True)
            await asyncio.sleep(delay)
