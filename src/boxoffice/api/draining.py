"""Draining an API process before it stops.

A load balancer keeps sending requests to a process until its health check fails. So on
SIGTERM the process first says it is going (``/health/ready`` answers 503 ``draining``),
keeps serving for ``BOXOFFICE_DRAIN_SECONDS``, and only then lets uvicorn stop listening,
finish the requests in flight (``BOXOFFICE_SHUTDOWN_TIMEOUT``) and run the shutdown that
stops the background work and closes the pool.

uvicorn handles SIGTERM with ``signal.signal`` while it serves and restores the previous
handler when it ends; :meth:`Drain.install` puts a handler in front of uvicorn's for that
time, which marks the drain and hands the signal on once the drain is over. Outside uvicorn
(tests, the Lambda handler) nothing is installed and the process never drains.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType
from typing import Any

from boxoffice.logs import get_logger

log = get_logger(__name__)


class Drain:
    def __init__(self) -> None:
        self.draining = False

    def start(self) -> None:
        """From now on this process is going: readiness fails."""
        self.draining = True

    def install(self, seconds: float) -> None:
        """Drain for ``seconds`` on SIGTERM before uvicorn's handler sees it (when uvicorn
        serves this process; a second SIGTERM stops at once)."""
        if threading.current_thread() is not threading.main_thread():
            return
        uvicorns = signal.getsignal(signal.SIGTERM)
        if (
            not callable(uvicorns)
            or "uvicorn" not in type(getattr(uvicorns, "__self__", None)).__module__
        ):
            return
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.draining or seconds <= 0:
                self.start()
                uvicorns(signum, frame)
                return
            self.start()
            log.info("draining", seconds=seconds)
            loop.call_soon_threadsafe(loop.call_later, seconds, uvicorns, signum, None)

        signal.signal(signal.SIGTERM, on_sigterm)


def drain_of(state: Any) -> Drain:
    drain: Drain = state["drain"]
    return drain
