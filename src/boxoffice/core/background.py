"""What the background loops (journal dispatcher, sweeper, housekeeping) share."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Called where a loop survives a failed round: re-raise the cancellation if the task
    is being cancelled. A cancellation that lands inside database work can surface as
    another exception (the driver's cleanup fails on the interrupted connection); a loop
    that caught it as a mere failure would keep running past shutdown."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
