"""Check-in at the door: an event's lists (with live counts) and scans. Staff with the
``checkin`` role may use these and nothing that shows orders or attendees' answers."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.api.middleware import SMALL_RESPONSE
from boxoffice.core.catalog.models import Event
from boxoffice.core.checkin.service import (
    Admission,
    CheckinListIn,
    CheckinListOut,
    Door,
    OfflineList,
    OfflineScansIn,
    ScanIn,
    ScanOut,
    create_list,
    get_list,
    lists_of,
    offline_list,
    open_door,
    scan,
)
from boxoffice.core.clock import Clock
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.identity.principal import authenticate_sync
from boxoffice.platform import Platform


def admission_of(
    request: Request[Any, Any, Any],
    platform: NamedDependency[Platform],
    org_id: FromPath[uuid.UUID],
    event_id: FromPath[uuid.UUID],
    list_id: FromPath[uuid.UUID],
) -> Admission:
    """The scan routes' authorization, to run inside the scan's own unit of work: who is
    calling (the ``Authorization`` header), whether they may check in here, and the list.
    The door is the hot path: no ``principal`` dependency, no ORM session, one transaction."""
    authorization = request.headers.get("authorization")

    def admit(connection: Connection) -> Door:
        now = platform.clock.now()
        caller = authenticate_sync(connection, platform.signer, authorization, now)
        return open_door(connection, caller, org_id, event_id, list_id)

    return admit


class CheckinController(Controller):
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}/checkin-lists"
    tags = ["check-in"]
    cache_control = PRIVATE
    dependencies = {"admission": Provide(admission_of, sync_to_thread=False)}

    @post("/", opt=needs(Permission.EVENTS_WRITE), summary="A check-in list for an entrance")
    async def create_checkin_list(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[CheckinListIn],
    ) -> CheckinListOut:
        return await create_list(session, clock, event, data)

    @get("/", opt=needs(Permission.CHECKIN), summary="The event's lists with live counts")
    async def checkin_lists(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[CheckinListOut]:
        return await lists_of(session, event)

    @post(
        "/{list_id:uuid}/scans",
        status_code=200,
        opt={**needs(Permission.CHECKIN), **SMALL_RESPONSE},
        summary="Scan a ticket: valid (let in), already used (when, where), or why not",
    )
    async def scan_ticket(
        self,
        platform: NamedDependency[Platform],
        admission: NamedDependency[Admission],
        data: JSONBody[ScanIn],
    ) -> ScanOut:
        # Few dependencies on purpose: Litestar resolves two or more of one depth in a task
        # group, a task each (~5 % of a scan's CPU); the clock comes with the platform.
        return await scan(
            platform.db,
            platform.clock,
            platform.ticket_keys,
            admission,
            data.credential,
            gate=data.gate,
            direction=data.direction,
        )

    @get(
        "/{list_id:uuid}/offline",
        opt=needs(Permission.CHECKIN),
        summary="Everything a scanner needs to check tickets without the network",
    )
    async def offline(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        event: NamedDependency[Event],
        list_id: FromPath[uuid.UUID],
    ) -> OfflineList:
        return await offline_list(
            session, platform.ticket_keys, await get_list(session, event, list_id)
        )

    @post(
        "/{list_id:uuid}/offline-scans",
        status_code=200,
        opt=needs(Permission.CHECKIN),
        summary="Upload the scans a scanner made offline: each answered as if scanned then",
    )
    async def upload_offline_scans(
        self,
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        admission: NamedDependency[Admission],
        data: JSONBody[OfflineScansIn],
    ) -> list[ScanOut]:
        door = await platform.db.run(admission)  # once for the whole upload
        answers: dict[int, ScanOut] = {}
        # Earliest first, so that of two offline entries of one ticket the earlier is kept;
        # answered in the order they were sent.
        for index, made in sorted(enumerate(data.scans), key=lambda pair: pair[1].scanned_at):
            answers[index] = await scan(
                platform.db,
                clock,
                platform.ticket_keys,
                lambda _connection: door,
                made.credential,
                gate=made.gate,
                scanned_at=made.scanned_at,
            )
        return [answers[index] for index in range(len(data.scans))]
