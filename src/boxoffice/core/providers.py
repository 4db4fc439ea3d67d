"""What every provider object has, whatever its kind."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol, TypeVar, runtime_checkable

import anyio
import msgspec

T = TypeVar("T")


class HealthState(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class ProviderHealth(msgspec.Struct, frozen=True):
    state: HealthState
    detail: str = ""


@runtime_checkable
class Provider(Protocol):
    """The part every provider kind shares: a stable id (the name used in plugins.toml)."""

    id: str

    async def health(self) -> ProviderHealth:
        """A cheap check of the provider's own state, shown by ``/health/ready``."""
        ...


class Bulkhead:
    """Runs a synchronous SDK's calls in worker threads, at most ``limit`` at a time per
    provider, so one slow service cannot starve the event loop or the other providers."""

    def __init__(self, limit: int) -> None:
        self._limiter = anyio.CapacityLimiter(max(1, limit))

    async def run(self, function: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(function, limiter=self._limiter)
