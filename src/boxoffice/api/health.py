"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from boxoffice.api.auth import caller_of
from boxoffice.api.caching import PRIVATE
from boxoffice.api.draining import drain_of
from boxoffice.core.errors import BoxofficeError
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.storage.replicas import Replica
from boxoffice.migrations import ensure_migrated
from boxoffice.platform import Platform

PROVIDER_CHECK_TIMEOUT = 2.0


class Check(msgspec.Struct):
    state: HealthState
    detail: str = ""
    #: The provider's circuit breaker: "closed", "opened" (calls paused) or "half-opened".
    breaker: str = "closed"


class Readiness(msgspec.Struct):
    status: HealthState
    database: Check
    providers: dict[str, Check]
    #: Read replicas (``replica-1`` … in the order of ``BOXOFFICE_DATABASE_REPLICA_URLS``):
    #: ``up`` while anonymous reads may go there, ``degraded`` when it is further behind
    #: than the bound, ``down`` when it does not answer. Either way the primary serves those
    #: reads: the process stays ready, its status ``degraded``.
    replicas: dict[str, Check] = msgspec.field(default_factory=dict)
    #: The process is shutting down (SIGTERM): it finishes what it has, takes no more.
    draining: bool = False


class HealthController(Controller):
    cache_control = PRIVATE
    path = "/health"
    tags = ["health"]

    @get("/live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "up"}

    @get(
        "/ready",
        summary="The database answers and each enabled provider's state (details for admins)",
    )
    async def ready(
        self, request: Request[Any, Any, Any], platform: NamedDependency[Platform]
    ) -> Response[Readiness]:
        database = await _database_check(platform)
        if drain_of(request.app.state).draining:
            # Not ready, whatever the database says: the process takes no new work. The
            # database's own state stays true (a deploy drains every process; an alert on
            # "database down" then would be a false one). Providers are not probed.
            return Response(
                Readiness(
                    status=HealthState.DOWN,
                    database=Check(database.state),
                    providers={},
                    draining=True,
                ),
                status_code=503,
            )
        # Region packs are static data; every other provider reports its own health.
        providers = [(k, i, p) for k, i, p in platform.plugins.providers.all() if k != "region"]
        results = await asyncio.gather(*(_check(p.health()) for _, _, p in providers))
        checks = {
            f"{kind}:{pid}": _with_breaker(result, platform.calls.state(pid))
            for (kind, pid, _), result in zip(providers, results, strict=True)
        }
        replicas = await _replica_checks(platform)
        status = database.state
        caller = await caller_of(request, platform)
        if caller is None or caller.platform_role != "admin":
            # Details name server paths, hosts and buckets: for platform admins only.
            database = Check(database.state)
            checks = {
                name: Check(check.state, breaker=check.breaker) for name, check in checks.items()
            }
            replicas = {name: Check(check.state) for name, check in replicas.items()}
        others = [*checks.values(), *replicas.values()]
        if status is HealthState.UP and any(c.state is not HealthState.UP for c in others):
            status = HealthState.DEGRADED
        code = 503 if status is HealthState.DOWN else 200
        return Response(
            Readiness(status=status, database=database, providers=checks, replicas=replicas),
            status_code=code,
        )


async def _database_check(platform: Platform) -> Check:
    """The database answers and carries this code's migrations."""
    try:
        await ensure_migrated(platform.db)
    except BoxofficeError as error:
        return Check(HealthState.DOWN, error.detail)
    except Exception as error:
        return Check(HealthState.DOWN, f"unreachable: {type(error).__name__}")
    return Check(HealthState.UP)


async def _replica_checks(platform: Platform) -> dict[str, Check]:
    checked = await platform.db.replicas.check_all()
    return {f"replica-{n}": _replica_check(r) for n, r in enumerate(checked, start=1)}


def _replica_check(replica: Replica) -> Check:
    where = replica.address
    if replica.lag is None:
        return Check(HealthState.DOWN, f"{where}: does not answer; its reads go to the primary")
    if not replica.fit:
        return Check(
            HealthState.DEGRADED,
            f"{where}: {replica.lag:.1f} s of replay behind (the bound is "
            f"{replica.max_lag:g} s); its reads go to the primary",
        )
    return Check(HealthState.UP, f"{where}: {replica.lag:.3f} s of replay behind")


def _with_breaker(check: Check, breaker: str) -> Check:
    """A provider whose breaker is open is down for routing, whatever its probe says."""
    if breaker == "opened":
        return Check(HealthState.DOWN, check.detail or "circuit breaker open", breaker)
    return Check(check.state, check.detail, breaker)


async def _check(probe: Awaitable[object]) -> Check:
    try:
        async with asyncio.timeout(PROVIDER_CHECK_TIMEOUT):
            result = await probe
    except TimeoutError:
        return Check(HealthState.DOWN, "health check timed out")
    except Exception as error:
        return Check(HealthState.DOWN, f"health check failed: {type(error).__name__}")
    if not isinstance(result, ProviderHealth):
        return Check(HealthState.DOWN, "health() did not return ProviderHealth")
    return Check(result.state, result.detail)
