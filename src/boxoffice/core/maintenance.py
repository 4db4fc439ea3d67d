"""Housekeeping every API or worker process runs now and then: planner statistics are kept
current, expired rate-limit windows, sign-in attempts, one-time tokens and idempotency records are
deleted, failed messages kept for a manual retry forget their data, and what the enabled
region packs keep only for a while goes (:mod:`boxoffice.core.privacy.retention`).
Idempotent; safe to run concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.idempotency import sweep_idempotency_records
from boxoffice.core.identity.models import OneTimeToken, SignInAttempt
from boxoffice.core.notify.service import forget_failed_data
from boxoffice.core.privacy.exports import expire_exports
from boxoffice.core.privacy.retention import apply_retention
from boxoffice.core.ratelimit import sweep
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)
INTERVAL_SECONDS = 600
#: Used and expired one-time tokens are kept this long (for support questions).
TOKEN_RETENTION = timedelta(days=7)


async def run_maintenance(
    db: Database, clock: Clock, regions: Sequence[ComplianceRegion] = ()
) -> None:
    now = clock.now()
    await db.optimize()
    await sweep(db, clock)
    await sweep_idempotency_records(db, clock)
    await forget_failed_data(db, clock)
    async with db.transaction() as session:
        await session.execute(delete(SignInAttempt).where(SignInAttempt.expires_at < now))
        await session.execute(
            delete(OneTimeToken).where(OneTimeToken.expires_at < now - TOKEN_RETENTION)
        )
    await expire_exports(db, clock)
    retained = await apply_retention(db, clock, regions)
    if any(retained.values()):
        log.info("retention.applied", **retained)


async def maintain_forever(
    db: Database, clock: Clock, regions: Sequence[ComplianceRegion] = ()
) -> None:
    while True:
        try:
            await run_maintenance(db, clock, regions)
        except Exception:  # the next round retries
            stop_if_cancelled()
            log.exception("maintenance.failed")
        await asyncio.sleep(INTERVAL_SECONDS)
