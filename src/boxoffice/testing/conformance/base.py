"""What every conformance suite shares: how its async tests run, and the health check."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.providers import HealthState, ProviderHealth


class ConformanceSuite:
    """Base of the suites. Their tests are coroutines run by AnyIO's pytest plugin (it comes
    with AnyIO, a dependency of boxoffice) on asyncio, so a plugin author's project needs no
    async test plugin and no configuration; pytest-asyncio in auto mode runs them as well."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"


async def check_health(provider: Any) -> None:
    health = await provider.health()
    assert isinstance(health, ProviderHealth), f"health() returned {health!r}, not ProviderHealth"
    assert health.state in set(HealthState), f"unknown health state {health.state!r}"


def check_id(provider_id: object) -> None:
    """A provider id is what plugins.toml names: lower case letters, digits, ``-`` and ``_``."""
    assert isinstance(provider_id, str), "a provider id is a string"
    assert provider_id, "a provider needs an id"
    assert provider_id == provider_id.strip().lower(), f"id {provider_id!r} is not lower case"
    assert all(c.isalnum() or c in "-_" for c in provider_id), f"id {provider_id!r}"
