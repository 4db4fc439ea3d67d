"""Check-in at the door: an event's lists (with live counts) and scans. Staff with the
``checkin`` role may use these and nothing that shows orders or attendees' answers."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.core.catalog.models import Event
from boxoffice.core.checkin.service import (
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
from boxoffice.core.identity.principal import Principal
from boxoffice.platform import Platform


async def door_of(
    platform: NamedDependency[Platform],
    principal: NamedDependency[Principal],
    org_id: FromPath[uuid.UUID],
    event_id: FromPath[uuid.UUID],
    list_id: FromPath[uuid.UUID],
) -> Door:
    """The scan routes' authorization: allowed to check in here, and the list (one unit of
    work, no session: the door is the hot path)."""
    return await platform.db.run(
        lambda connection: open_door(connection, principal, org_id, event_id, list_id)
    )


class CheckinController(Controller):
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}/checkin-lists"
    tags = ["check-in"]
    cache_control = PRIVATE
    dependencies = {"door": Provide(door_of)}

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
        opt=needs(Permission.CHECKIN),
        summary="Scan a ticket: valid (let in), already used (when, where), or why not",
    )
    async def scan_ticket(
        self,
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        door: NamedDependency[Door],
        data: JSONBody[ScanIn],
    ) -> ScanOut:
        return await scan(
            platform.db,
            clock,
            platform.ticket_keys,
            door,
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
        door: NamedDependency[Door],
        data: JSONBody[OfflineScansIn],
    ) -> list[ScanOut]:
        answers: dict[int, ScanOut] = {}
        # Earliest first, so that of two offline entries of one ticket the earlier is kept;
        # answered in the order they were sent.
        for index, made in sorted(enumerate(data.scans), key=lambda pair: pair[1].scanned_at):
            answers[index] = await scan(
                platform.db,
                clock,
                platform.ticket_keys,
                door,
                made.credential,
                gate=made.gate,
                scanned_at=made.scanned_at,
            )
        return [answers[index] for index in range(len(data.scans))]
