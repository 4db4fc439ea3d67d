"""What every provider object has, whatever its kind."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

import msgspec


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
