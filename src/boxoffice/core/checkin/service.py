"""Check-in lists and scans.

A scan answers, in one request, everything the door needs: ``valid`` (let in, now),
``already_used`` (with when and at which gate it was first let in), ``unknown`` (not a
ticket of this platform, or a credential a reissue replaced), ``wrong_event``, ``wrong_list``
(a ticket type this entrance does not take), ``refunded``, ``cancelled``, or
``not_yet_valid`` (unpaid, or before the list opens). A ticket is let in once per list: the
``checkin`` row is inserted with ``ON CONFLICT DO NOTHING`` on (list, ticket), so of two
scanners scanning the same ticket at the same moment — in one process or several, on either
engine — exactly one gets ``valid``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.orders import TicketStatus
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import FieldError, NotFound, ValidationFailed
from boxoffice.core.fields import SingleLine
from boxoffice.core.storage import conflict_insert
from boxoffice.core.tickets.credentials import TicketKeys, read_claim

ScanResult = Literal[
    "valid",
    "already_used",
    "unknown",
    "wrong_event",
    "wrong_list",
    "refunded",
    "cancelled",
    "not_yet_valid",
    "exited",
    "not_inside",
]
Direction = Literal["entry", "exit"]


class CheckinListIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=120)]
    #: Ticket types let in through this list; empty: all of the event's.
    ticket_type_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    #: When the doors open (scans before are refused as not yet valid).
    opens_at: datetime | None = None
    #: Whether a ticket scanned out (``direction: exit``) may come in again.
    reentry: bool = False


class CheckinListOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    ticket_type_ids: list[uuid.UUID]
    opens_at: datetime | None
    reentry: bool
    #: Live counts: tickets let in through this list, those inside now, and the valid
    #: tickets it takes.
    checked_in: int
    inside: int
    expected: int


class ScanIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: What the ticket's QR code carries.
    credential: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    #: Where the scan happens (shown when the ticket is scanned again elsewhere).
    gate: Annotated[SingleLine, msgspec.Meta(max_length=120)] = ""
    #: ``exit``: the holder goes out (on a list with re-entry they may come back in).
    direction: Direction = "entry"


class ScannedTicket(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    attendee_name: str
    ticket_type: str


class ScanOut(msgspec.Struct, frozen=True, kw_only=True):
    result: ScanResult
    #: Said to the door staff in words.
    detail: str
    ticket: ScannedTicket | None = None
    #: For ``already_used``: when and where it was first let in.
    first_scanned_at: datetime | None = None
    first_gate: str | None = None
    #: For an offline scan that turned out earlier than the entry on record: that entry.
    repeated_at: datetime | None = None
    repeated_gate: str | None = None


async def create_list(
    session: AsyncSession, clock: Clock, event: Event, data: CheckinListIn
) -> CheckinListOut:
    if data.opens_at is not None and data.opens_at.tzinfo is None:
        raise ValidationFailed(
            "give opens_at a time zone offset",
            errors=[FieldError("opens_at", "give a time zone offset, e.g. 2030-05-01T18:00Z")],
        )
    if data.ticket_type_ids:
        found = set(
            await session.scalars(
                select(TicketType.id).where(
                    TicketType.event_id == event.id, TicketType.id.in_(data.ticket_type_ids)
                )
            )
        )
        missing = [str(t) for t in data.ticket_type_ids if t not in found]
        if missing:
            raise ValidationFailed(
                "not ticket types of this event",
                errors=[FieldError("ticket_type_ids", f"unknown: {', '.join(missing)}")],
            )
    checkin_list = CheckinList(
        event_id=event.id,
        name=data.name,
        ticket_type_ids=sorted({str(t) for t in data.ticket_type_ids}),
        opens_at=ensure_utc(data.opens_at) if data.opens_at else None,
        reentry=data.reentry,
        created_at=clock.now(),
    )
    session.add(checkin_list)
    await session.flush()
    return await _list_out(session, checkin_list)


async def lists_of(session: AsyncSession, event: Event) -> list[CheckinListOut]:
    rows = await session.scalars(
        select(CheckinList)
        .where(CheckinList.event_id == event.id)
        .order_by(CheckinList.created_at, CheckinList.id)
    )
    return [await _list_out(session, checkin_list) for checkin_list in rows]


async def get_list(session: AsyncSession, event: Event, list_id: uuid.UUID) -> CheckinList:
    found = await session.get(CheckinList, list_id)
    if found is None or found.event_id != event.id:
        raise NotFound(f"no check-in list {list_id} for this event")
    return found


async def _list_out(session: AsyncSession, checkin_list: CheckinList) -> CheckinListOut:
    checked_in, inside = (
        await session.execute(
            select(func.count(), func.count().filter(Checkin.inside)).where(
                Checkin.list_id == checkin_list.id
            )
        )
    ).one()
    expected = select(func.count()).select_from(OrderItem).join(Order)
    expected = expected.where(
        Order.event_id == checkin_list.event_id, OrderItem.status == TicketStatus.VALID
    )
    if checkin_list.ticket_type_ids:
        types = [uuid.UUID(t) for t in checkin_list.ticket_type_ids]
        expected = expected.where(OrderItem.ticket_type_id.in_(types))
    return CheckinListOut(
        id=checkin_list.id,
        event_id=checkin_list.event_id,
        name=checkin_list.name,
        ticket_type_ids=[uuid.UUID(t) for t in checkin_list.ticket_type_ids],
        opens_at=ensure_utc(checkin_list.opens_at) if checkin_list.opens_at else None,
        reentry=checkin_list.reentry,
        checked_in=int(checked_in or 0),
        inside=int(inside or 0),
        expected=int(await session.scalar(expected) or 0),
    )


_REFUSED_STATUS: dict[str, tuple[ScanResult, str]] = {
    TicketStatus.REFUNDED: ("refunded", "refunded: not valid for entry"),
    TicketStatus.CANCELLED: ("cancelled", "its order was cancelled"),
    TicketStatus.EXPIRED: ("cancelled", "its order was never paid and expired"),
    TicketStatus.PENDING: ("not_yet_valid", "its order is not paid yet"),
}


async def scan(
    session: AsyncSession,
    clock: Clock,
    keys: TicketKeys,
    checkin_list: CheckinList,
    credential: str,
    *,
    gate: str = "",
    by_user_id: uuid.UUID | None = None,
    scanned_at: datetime | None = None,
    direction: Direction = "entry",
) -> ScanOut:
    """Check a scanned credential against ``checkin_list`` and let the ticket in if it may
    enter (see the module's docstring for the answers). ``scanned_at``: when a scanner that
    was offline let it in (the upload comes later); the earliest entry is the one kept."""
    claim = keys.verify(credential)
    if claim is None:
        forged = read_claim(credential) is not None
        return ScanOut(
            result="unknown",
            detail="a forged or damaged code" if forged else "not a ticket of this platform",
        )
    if claim.event_id != checkin_list.event_id:
        return ScanOut(result="wrong_event", detail="a ticket for another event")
    row = (
        await session.execute(
            select(OrderItem, TicketType.name)
            .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
            .where(OrderItem.id == claim.ticket_id)
        )
    ).first()
    if row is None:
        return ScanOut(result="unknown", detail="no such ticket")
    item, type_name = row
    ticket = ScannedTicket(id=item.id, attendee_name=item.attendee_name, ticket_type=type_name)
    if item.credential_version != claim.version:
        return ScanOut(
            result="unknown", detail="an old code: this ticket was reissued", ticket=ticket
        )
    if item.status != TicketStatus.VALID:
        result, detail = _REFUSED_STATUS.get(item.status, ("cancelled", item.status))
        return ScanOut(result=result, detail=detail, ticket=ticket)
    if checkin_list.ticket_type_ids and str(item.ticket_type_id) not in set(
        checkin_list.ticket_type_ids
    ):
        return ScanOut(result="wrong_list", detail="not let in at this entrance", ticket=ticket)
    now = min(ensure_utc(scanned_at), clock.now()) if scanned_at else clock.now()
    if checkin_list.opens_at is not None and now < ensure_utc(checkin_list.opens_at):
        return ScanOut(result="not_yet_valid", detail="the doors are not open yet", ticket=ticket)
    where = (Checkin.list_id == checkin_list.id) & (Checkin.ticket_id == item.id)
    if direction == "exit":
        left = await session.execute(
            update(Checkin)
            .where(where, Checkin.inside)
            .values(inside=False)
            .returning(Checkin.gate)
        )
        if left.first() is not None:
            return ScanOut(result="exited", detail="gone out", ticket=ticket)
        return ScanOut(result="not_inside", detail="not inside: nothing to scan out", ticket=ticket)
    statement = conflict_insert(session.get_bind().dialect.name, Checkin).values(
        list_id=checkin_list.id,
        ticket_id=item.id,
        scanned_at=now,
        gate=gate[:120],
        by_user_id=by_user_id,
    )
    inserted = await session.execute(
        statement.on_conflict_do_nothing(index_elements=["list_id", "ticket_id"]).returning(
            Checkin.ticket_id
        )
    )
    if inserted.first() is not None:
        return ScanOut(result="valid", detail="let in", ticket=ticket)
    if checkin_list.reentry:
        back = await session.execute(
            update(Checkin)
            .where(where, ~Checkin.inside)
            .values(
                inside=True,
                entries=Checkin.entries + 1,
                scanned_at=now,
                gate=gate[:120],
                by_user_id=by_user_id,
            )
            .returning(Checkin.entries)
        )
        if back.first() is not None:
            return ScanOut(result="valid", detail="let in again", ticket=ticket)
    first = await session.get(Checkin, (checkin_list.id, item.id), populate_existing=True)
    assert first is not None  # the conflict was with it
    if scanned_at is not None and now < ensure_utc(first.scanned_at):
        # An offline scanner let it in earlier than the entry on record: keep the earliest
        # (the counts stay right; the later scan is the one reported as the repeat).
        later_at, later_gate = ensure_utc(first.scanned_at), first.gate
        await session.execute(
            update(Checkin)
            .where(Checkin.list_id == checkin_list.id, Checkin.ticket_id == item.id)
            .values(scanned_at=now, gate=gate[:120], by_user_id=by_user_id)
        )
        return ScanOut(
            result="already_used",
            detail="let in twice: this earlier offline scan is kept",
            ticket=ticket,
            first_scanned_at=now,
            first_gate=gate[:120],
            repeated_at=later_at,
            repeated_gate=later_gate,
        )
    return ScanOut(
        result="already_used",
        detail="already let in",
        ticket=ticket,
        first_scanned_at=ensure_utc(first.scanned_at),
        first_gate=first.gate,
    )


class OfflineTicket(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    #: The credential version that is current (older ones were reissued away).
    version: int
    status: str
    attendee_name: str
    ticket_type: str
    #: When it was let in through this list, if it was.
    checked_in_at: datetime | None = None


class OfflineList(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a scanner needs to work without the network: the event's public keys
    (check the signature), every ticket the list could meet (check version, status, type,
    and who is in already)."""

    checkin_list: CheckinListOut
    algorithm: str = "Ed25519"
    keys: list[str]
    tickets: list[OfflineTicket]


class OfflineScan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    credential: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    #: When the scanner let the ticket in (it had no network then).
    scanned_at: datetime
    gate: Annotated[SingleLine, msgspec.Meta(max_length=120)] = ""


class OfflineScansIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scans: Annotated[list[OfflineScan], msgspec.Meta(min_length=1, max_length=5000)]

    def __post_init__(self) -> None:
        naive = [i for i, made in enumerate(self.scans) if made.scanned_at.tzinfo is None]
        if naive:
            raise ValidationFailed(
                "give each scan's time with its offset",
                errors=[
                    FieldError(f"scans[{i}].scanned_at", "add an offset, e.g. Z") for i in naive
                ],
            )


async def offline_list(
    session: AsyncSession, keys: TicketKeys, checkin_list: CheckinList
) -> OfflineList:
    query = (
        select(OrderItem, TicketType.name, Checkin.scanned_at)
        .join(Order, Order.id == OrderItem.order_id)
        .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
        .outerjoin(
            Checkin,
            (Checkin.ticket_id == OrderItem.id) & (Checkin.list_id == checkin_list.id),
        )
        .where(Order.event_id == checkin_list.event_id)
        .order_by(OrderItem.id)
    )
    if checkin_list.ticket_type_ids:
        types = [uuid.UUID(t) for t in checkin_list.ticket_type_ids]
        query = query.where(OrderItem.ticket_type_id.in_(types))
    tickets = [
        OfflineTicket(
            id=item.id,
            version=item.credential_version,
            status=item.status,
            attendee_name=item.attendee_name,
            ticket_type=type_name,
            checked_in_at=ensure_utc(at) if at else None,
        )
        for item, type_name, at in await session.execute(query)
    ]
    return OfflineList(
        checkin_list=await _list_out(session, checkin_list),
        keys=keys.published_keys(checkin_list.event_id),
        tickets=tickets,
    )
