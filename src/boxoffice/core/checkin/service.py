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
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal, NamedTuple, NoReturn

import msgspec
from sqlalchemy import Connection, String, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.orders import TicketStatus
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import FieldError, NotFound, ValidationFailed
from boxoffice.core.fields import SingleLine
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.identity.principal import Principal, authorize_sync
from boxoffice.core.storage import Database, UTCDateTime, UUIDType, conflict_insert, table_of
from boxoffice.core.storage.prepared import Prepared
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


class Door(NamedTuple):
    """A check-in list as a scan needs it, once the caller was allowed to scan there."""

    list_id: uuid.UUID
    event_id: uuid.UUID
    #: The ticket types let in (empty: all of the event's).
    ticket_type_ids: frozenset[str]
    opens_at: datetime | None
    reentry: bool
    #: Who scans (``None`` for an API key).
    by_user_id: uuid.UUID | None


_LIST = table_of(CheckinList)
_EVENT = table_of(Event)
_CHECKIN = table_of(Checkin)
_ITEM = table_of(OrderItem)
_TYPE = table_of(TicketType)

# The door's statements, prepared (a scan is the check-in's hot path).
_DOOR = Prepared(
    select(_LIST.c.ticket_type_ids, _LIST.c.opens_at, _LIST.c.reentry)
    .join(_EVENT, _EVENT.c.id == _LIST.c.event_id)
    .where(
        _LIST.c.id == bindparam("list_id"),
        _LIST.c.event_id == bindparam("event_id"),
        _EVENT.c.organization_id == bindparam("organization_id"),
    )
)
_TICKET = Prepared(
    select(
        _ITEM.c.attendee_name,
        _ITEM.c.status,
        _ITEM.c.credential_version,
        _ITEM.c.ticket_type_id,
        _TYPE.c.name,
    )
    .join(_TYPE, _TYPE.c.id == _ITEM.c.ticket_type_id)
    .where(_ITEM.c.id == bindparam("ticket_id"))
)
_HERE = (_CHECKIN.c.list_id == bindparam("list_id")) & (
    _CHECKIN.c.ticket_id == bindparam("ticket_id")
)
_ADMIT = Prepared(
    lambda dialect: (
        conflict_insert(dialect, _CHECKIN)
        .from_select(
            ["list_id", "ticket_id", "scanned_at", "gate", "by_user_id", "inside", "entries"],
            # Only a ticket still valid in the scanned version: a refund or a reissue committed
            # since the ticket was read turns the entry into nothing.
            select(
                bindparam("list_id", type_=UUIDType),
                bindparam("ticket_id", type_=UUIDType),
                bindparam("at", type_=UTCDateTime),
                bindparam("gate", type_=String),
                bindparam("by_user_id", type_=UUIDType),
                literal(True),
                literal(1),
            ).where(
                _ITEM.c.id == bindparam("ticket_id"),
                _ITEM.c.status == TicketStatus.VALID,
                _ITEM.c.credential_version == bindparam("version"),
            ),
        )
        .on_conflict_do_nothing(index_elements=["list_id", "ticket_id"])
        .returning(_CHECKIN.c.ticket_id)
    )
)
_FIRST_ENTRY = Prepared(
    select(_CHECKIN.c.scanned_at, _CHECKIN.c.gate, _CHECKIN.c.inside).where(_HERE)
)
_TICKET_STATUS = Prepared(select(_ITEM.c.status).where(_ITEM.c.id == bindparam("ticket_id")))
_COME_BACK = Prepared(
    update(_CHECKIN)
    .where(_HERE, ~_CHECKIN.c.inside)
    .values(
        inside=True,
        entries=_CHECKIN.c.entries + 1,
        scanned_at=bindparam("at"),
        gate=bindparam("gate"),
        by_user_id=bindparam("by_user_id"),
    )
)
_EARLIER_ENTRY = Prepared(
    update(_CHECKIN)
    .where(_HERE)
    .values(scanned_at=bindparam("at"), gate=bindparam("gate"), by_user_id=bindparam("by_user_id"))
)
_GO_OUT = Prepared(
    update(_CHECKIN).where(_HERE, _CHECKIN.c.inside).values(inside=False).returning(_CHECKIN.c.gate)
)

#: Who may scan where: authorizes the caller and reads the list, inside the scan's unit of
#: work (:func:`open_door` with the caller, or a door already open for a batch of scans).
Admission = Callable[[Connection], Door]


def open_door(
    connection: Connection,
    principal: Principal,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
) -> Door:
    """Authorize a scan (permission ``checkin``) and read its list: statements of the scan's
    own unit of work."""
    authorize_sync(connection, principal, organization_id, Permission.CHECKIN)
    row = _DOOR.first(
        connection,
        {"list_id": list_id, "event_id": event_id, "organization_id": organization_id},
    )
    if row is None:
        raise NotFound(f"no check-in list {list_id} for this event")
    return Door(
        list_id=list_id,
        event_id=event_id,
        ticket_type_ids=frozenset(row.ticket_type_ids),
        opens_at=ensure_utc(row.opens_at) if row.opens_at else None,
        reentry=row.reentry,
        by_user_id=principal.user.id if principal.user is not None else None,
    )


async def scan(
    db: Database,
    clock: Clock,
    keys: TicketKeys,
    admission: Admission,
    credential: str,
    *,
    gate: str = "",
    scanned_at: datetime | None = None,
    direction: Direction = "entry",
) -> ScanOut:
    """Check a scanned credential at the door ``admission`` opens and let the ticket in if it
    may enter (see the module's docstring for the answers). ``scanned_at``: when a scanner
    that was offline let it in (the upload comes later); the earliest entry is the one kept.

    All of it is one unit of write work (:meth:`Database.run`: group-committed with other
    scans on SQLite; on PostgreSQL reads and then the entry as one self-committing
    statement, no BEGIN or COMMIT): the caller's authorization first, then the signature
    (no database), then the entry, which admits only a ticket still valid in that version
    and not in yet. When it admits nothing (a repeat, mostly), a second unit finds out why."""
    now = min(ensure_utc(scanned_at), clock.now()) if scanned_at else clock.now()
    entry = _Entry(
        admission=admission,
        keys=keys,
        credential=credential,
        at=now,
        gate=gate[:120],
        offline=scanned_at is not None,
        exit=direction == "exit",
    )
    try:
        return await db.run(entry.scan)
    except _NotLetIn as refused:
        return await db.run(partial(entry.explain, refused))


def _refused(status: str, ticket: ScannedTicket) -> ScanOut:
    result, detail = _REFUSED_STATUS.get(status, ("cancelled", status))
    return ScanOut(result=result, detail=detail, ticket=ticket)


class _Door(NamedTuple):
    """What the write found: the answer's fields but the ticket."""

    result: ScanResult
    detail: str
    first_scanned_at: datetime | None = None
    first_gate: str | None = None
    repeated_at: datetime | None = None
    repeated_gate: str | None = None

    def answer(self, ticket: ScannedTicket) -> ScanOut:
        return ScanOut(ticket=ticket, **self._asdict())


class _NotLetIn(Exception):
    """The entry's insert added nothing: the ticket is in already, or changed since it was
    read (raised by the deferred insert, which rolls its unit back)."""

    def __init__(self, door: Door, ticket: ScannedTicket, params: dict[str, Any]) -> None:
        super().__init__("not let in")
        self.door, self.ticket, self.params = door, ticket, params

    def raise_(self) -> NoReturn:
        raise self


class _Entry(NamedTuple):
    """One scan, run by :meth:`Database.run` on a synchronous connection."""

    admission: Admission
    keys: TicketKeys
    credential: str
    at: datetime
    gate: str
    offline: bool
    exit: bool

    def scan(self, connection: Connection) -> ScanOut:
        door = self.admission(connection)
        claim = self.keys.verify(self.credential)
        if claim is None:
            forged = read_claim(self.credential) is not None
            return ScanOut(
                result="unknown",
                detail="a forged or damaged code" if forged else "not a ticket of this platform",
            )
        if claim.event_id != door.event_id:
            return ScanOut(result="wrong_event", detail="a ticket for another event")
        row = _TICKET.first(connection, {"ticket_id": claim.ticket_id})
        if row is None:
            return ScanOut(result="unknown", detail="no such ticket")
        ticket = ScannedTicket(
            id=claim.ticket_id, attendee_name=row.attendee_name, ticket_type=row.name
        )
        if row.credential_version != claim.version:
            return ScanOut(
                result="unknown", detail="an old code: this ticket was reissued", ticket=ticket
            )
        if row.status != TicketStatus.VALID:
            return _refused(row.status, ticket)
        if door.ticket_type_ids and str(row.ticket_type_id) not in door.ticket_type_ids:
            return ScanOut(result="wrong_list", detail="not let in at this entrance", ticket=ticket)
        if door.opens_at is not None and self.at < door.opens_at:
            return ScanOut(
                result="not_yet_valid", detail="the doors are not open yet", ticket=ticket
            )
        params: dict[str, Any] = {
            "list_id": door.list_id,
            "ticket_id": claim.ticket_id,
            "version": claim.version,
            "at": self.at,
            "gate": self.gate,
            "by_user_id": door.by_user_id,
        }
        if self.exit:
            return self.leave(connection, params).answer(ticket)
        return self.enter(connection, door, ticket, params).answer(ticket)

    def enter(
        self, connection: Connection, door: Door, ticket: ScannedTicket, params: dict[str, Any]
    ) -> _Door:
        """Let the ticket in: an insert, deferred to the end of the unit, that adds the entry
        only if the ticket is still valid in this version and not in yet (``ON CONFLICT DO
        NOTHING`` on (list, ticket): of two scans at once, one wins). If it adds nothing,
        :class:`_NotLetIn` rolls the unit back and :meth:`explain` answers."""
        refusal = _NotLetIn(door, ticket, params)
        _ADMIT.defer(connection, params, expect=1, otherwise=refusal.raise_)
        return _Door("valid", "let in")

    def explain(self, refused: _NotLetIn, connection: Connection) -> ScanOut:
        """Why a ticket was not let in (its own unit of work, after the refusal): in already,
        back in through a door that lets people in again, or changed since it was read."""
        door, ticket, params = refused.door, refused.ticket, refused.params
        first = _FIRST_ENTRY.first(connection, params)
        if first is None:  # not inserted, not there: the ticket changed since it was read
            status = _TICKET_STATUS.execute(connection, params).rows[0].status
            if status == TicketStatus.VALID:
                return _Door("unknown", "an old code: this ticket was reissued").answer(ticket)
            return _refused(status, ticket)
        first_at, first_gate, inside = ensure_utc(first.scanned_at), first.gate, first.inside
        if door.reentry and not inside and _COME_BACK.execute(connection, params).rowcount:
            return _Door("valid", "let in again").answer(ticket)
        if self.offline and self.at < first_at:
            # An offline scanner let it in earlier than the entry on record: keep the earliest
            # (the counts stay right; the later scan is the one reported as the repeat).
            _EARLIER_ENTRY.execute(connection, params)
            return _Door(
                "already_used",
                "let in twice: this earlier offline scan is kept",
                first_scanned_at=self.at,
                first_gate=self.gate,
                repeated_at=first_at,
                repeated_gate=first_gate,
            ).answer(ticket)
        return _Door(
            "already_used", "already let in", first_scanned_at=first_at, first_gate=first_gate
        ).answer(ticket)

    def leave(self, connection: Connection, params: dict[str, Any]) -> _Door:
        if _GO_OUT.first(connection, params) is not None:
            return _Door("exited", "gone out")
        return _Door("not_inside", "not inside: nothing to scan out")


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
