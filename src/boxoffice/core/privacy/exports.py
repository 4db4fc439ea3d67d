"""A person's copy of their data as a job with a link, for histories too large to build in
a request (``GET /me/data`` builds it at once).

``POST /me/data-exports`` records the request and a journal entry; the ``data-exports``
subscriber builds the same JSON as ``GET /me/data`` in its own transaction and keeps it for
:data:`KEPT` behind a secret link (derived from the platform key, only its hash stored: the
link works without signing in, as a link in an e-mail would, and nothing else reaches the
file). Then housekeeping drops the file (``expired``). An erasure deletes the person's
exports with the rest.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import NotFound
from boxoffice.core.identity.models import User
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.service import append
from boxoffice.core.links import LinkKind, LinkSecrets, secret_matches
from boxoffice.core.privacy.entries import DataExportRequested
from boxoffice.core.privacy.models import DataExport
from boxoffice.core.privacy.service import export_data
from boxoffice.core.ratelimit import RateLimited
from boxoffice.core.storage import Database

#: How long a built copy stays downloadable.
KEPT = timedelta(days=7)
#: Copies a person may have pending or ready at once.
AT_ONCE = 3
PENDING, READY, EXPIRED = "pending", "ready", "expired"
DATA_EXPORTS_SUBSCRIBER = "data-exports"


class DataExportOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    #: "pending" (being built), "ready" (``download`` works until ``expires_at``), "expired"
    status: str
    requested_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = None
    #: The file's link (no sign-in needed: keep it private); only while ready.
    download: str | None = None


def export_out(export: DataExport, links: LinkSecrets) -> DataExportOut:
    download = None
    if export.status == READY:
        secret = links.recover(LinkKind.DATA_EXPORT, export.id, export.secret_hash)
        download = f"/api/v1/me/data-exports/{export.id}/download?secret={secret}"
    return DataExportOut(
        id=export.id,
        status=export.status,
        requested_at=ensure_utc(export.requested_at),
        ready_at=ensure_utc(export.ready_at) if export.ready_at else None,
        expires_at=ensure_utc(export.expires_at) if export.expires_at else None,
        download=download,
    )


async def request_export(
    session: AsyncSession, clock: Clock, user: User, links: LinkSecrets
) -> DataExport:
    """A new copy to build; :class:`RateLimited` (429) while :data:`AT_ONCE` are pending or
    ready."""
    live = await session.scalars(
        select(DataExport.id).where(
            DataExport.user_id == user.id, DataExport.status.in_((PENDING, READY))
        )
    )
    if len(list(live)) >= AT_ONCE:
        raise RateLimited(
            f"you have {AT_ONCE} copies pending or ready: download one, or wait for them to expire",
            retry_after=3600,
        )
    link = links.new(LinkKind.DATA_EXPORT)
    export = DataExport(
        id=link.id,
        user_id=user.id,
        secret_hash=link.secret_hash,
        status=PENDING,
        requested_at=clock.now(),
    )
    session.add(export)
    await session.flush()
    await append(
        session, DataExportRequested(export_id=str(export.id), user_id=str(user.id)), clock
    )
    return export


async def export_of(session: AsyncSession, user: User, export_id: uuid.UUID) -> DataExport:
    export = await session.get(DataExport, export_id)
    if export is None or export.user_id != user.id:
        raise NotFound(f"you have no data export {export_id}")
    return export


async def download(
    session: AsyncSession, clock: Clock, export_id: uuid.UUID, secret: str | None
) -> str:
    """The file behind a link: :class:`NotFound` for a wrong secret, an export not ready or
    past its time (the same answer: a link tells nothing else)."""
    export = await session.get(DataExport, export_id)
    if (
        export is None
        or not secret_matches(secret, export.secret_hash)
        or export.status != READY
        or export.content is None
        or (export.expires_at is not None and ensure_utc(export.expires_at) <= clock.now())
    ):
        raise NotFound("no such file, or its link has expired")
    return export.content


async def build_export(session: AsyncSession, clock: Clock, export_id: uuid.UUID) -> None:
    """Build a pending copy (once: the journal delivers at least once)."""
    export = await session.get(DataExport, export_id, with_for_update=True)
    if export is None or export.status != PENDING:
        return
    user = await session.get(User, export.user_id)
    if user is None:
        return
    data = await export_data(session, clock, user)
    export.content = msgspec.json.encode(data).decode()
    export.status, export.ready_at = READY, clock.now()
    export.expires_at = export.ready_at + KEPT


async def expire_exports(db: Database, clock: Clock) -> None:
    """Housekeeping: copies past their time lose their file."""
    async with db.transaction() as session:
        await session.execute(
            update(DataExport)
            .where(DataExport.status == READY, DataExport.expires_at < clock.now())
            .values(status=EXPIRED, content=None)
        )


def data_exports_subscriber(db: Database, clock: Clock) -> Subscriber:
    async def handle(recorded: RecordedEntry) -> None:
        entry = recorded.decode()
        if isinstance(entry, DataExportRequested):
            async with db.transaction() as session:
                await build_export(session, clock, uuid.UUID(entry.export_id))

    return Subscriber(
        name=DATA_EXPORTS_SUBSCRIBER,
        handler=handle,
        types=frozenset({DataExportRequested.__name__}),
        start_at_end=True,
    )
