"""Promo codes: organizers manage them; buyers give one with their hold.

A code is checked when the hold is placed (it exists, is in its window, is not used up, and
unlocks its hidden ticket types) and *used* when the order is placed: one conditional UPDATE
``uses = uses + 1 WHERE uses < max_uses`` decides among concurrent orders, and a per-buyer
upsert does the same for ``max_uses_per_buyer``. A cancelled or expired order gives its use
back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.errors import LimitExceeded
from boxoffice.core.booking.models import PromoCode, PromoCodeUse
from boxoffice.core.booking.schemas import PromoCodeIn, PromoCodeOut
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.catalog.service import event_row
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, FieldError, RuleViolated, ValidationFailed
from boxoffice.core.storage import table_of

_PROMO = table_of(PromoCode)
_USE = table_of(PromoCodeUse)

FIND = select(_PROMO).where(
    _PROMO.c.event_id == bindparam("event_id"), _PROMO.c.code == bindparam("code")
)
TAKE = (
    update(_PROMO)
    .where(
        _PROMO.c.id == bindparam("promo_id"),
        (_PROMO.c.max_uses.is_(None)) | (_PROMO.c.uses < _PROMO.c.max_uses),
    )
    .values(uses=_PROMO.c.uses + 1)
)
GIVE_BACK = (
    update(_PROMO)
    .where(_PROMO.c.id == bindparam("promo_id"), _PROMO.c.uses > 0)
    .values(uses=_PROMO.c.uses - 1)
)
GIVE_BACK_BUYER = (
    update(_USE)
    .where(
        _USE.c.promo_code_id == bindparam("promo_id"),
        _USE.c.buyer_email == bindparam("email"),
        _USE.c.uses > 0,
    )
    .values(uses=_USE.c.uses - 1)
)
_BUYER_UPSERTS: dict[str, Any] = {}


class PromoCodeRefused(RuleViolated):
    slug = "promo-code"
    title = "This promo code cannot be used"


def normalize_code(code: str) -> str:
    return code.strip().upper()


def _in_window(promo: Any, now: datetime) -> bool:
    return (promo.valid_from is None or ensure_utc(promo.valid_from) <= now) and (
        promo.valid_until is None or now < ensure_utc(promo.valid_until)
    )


def find_usable(connection: Connection, event_id: uuid.UUID, code: str, now: datetime) -> Any:
    """The promo code row for a hold; refused, naming why, if it cannot be used now."""
    promo = connection.execute(FIND, {"event_id": event_id, "code": normalize_code(code)}).first()
    if promo is None:
        raise PromoCodeRefused(
            "unknown promo code",
            extra={"rule": "promo_code_unknown"},
            errors=[FieldError("promo_code", "no such code for this event")],
        )
    if not _in_window(promo, now):
        raise PromoCodeRefused(
            "this promo code is not valid now", extra={"rule": "promo_code_window"}
        )
    if promo.max_uses is not None and promo.uses >= promo.max_uses:
        raise PromoCodeRefused("this promo code is used up", extra={"rule": "promo_code_used_up"})
    return promo


def take_use(connection: Connection, promo_id: uuid.UUID, email: str, now: datetime) -> Any:
    """Use the code once for this order, within its limits; returns the promo row."""
    promo = connection.execute(select(_PROMO).where(_PROMO.c.id == promo_id)).first()
    if promo is None or not _in_window(promo, now):
        raise PromoCodeRefused(
            "this promo code is no longer valid", extra={"rule": "promo_code_window"}
        )
    if connection.execute(TAKE, {"promo_id": promo_id}).rowcount != 1:
        raise PromoCodeRefused(
            "this promo code was used up meanwhile; release the hold and start again without it",
            extra={"rule": "promo_code_used_up"},
        )
    limit = promo.max_uses_per_buyer
    upsert = _BUYER_UPSERTS.get(connection.dialect.name)
    if upsert is None:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(PromoCodeUse)
        upsert = _BUYER_UPSERTS[connection.dialect.name] = statement.on_conflict_do_update(
            index_elements=[PromoCodeUse.promo_code_id, PromoCodeUse.buyer_email],
            set_={"uses": PromoCodeUse.uses + 1},
            where=(bindparam("limit", type_=_USE.c.uses.type).is_(None))
            | (PromoCodeUse.uses < bindparam("limit", type_=_USE.c.uses.type)),
        ).returning(PromoCodeUse.uses)
    counted = connection.execute(
        upsert, {"promo_code_id": promo_id, "buyer_email": email, "uses": 1, "limit": limit}
    ).first()
    if counted is None:
        raise LimitExceeded(
            f"this promo code can be used {limit} time(s) per buyer",
            extra={"rule": "promo_code_per_buyer", "limit": limit},
        )
    return promo


async def give_back_use(session: AsyncSession, promo_id: uuid.UUID, email: str) -> None:
    await session.execute(GIVE_BACK, {"promo_id": promo_id})
    await session.execute(GIVE_BACK_BUYER, {"promo_id": promo_id, "email": email})


# ------------------------------------------------------------------ organizers


async def _check(
    session: AsyncSession, event: Event, data: PromoCodeIn, current: uuid.UUID | None = None
) -> None:
    problems: list[FieldError] = []
    if data.kind == "percent" and data.value > 10_000:
        problems.append(FieldError("value", "at most 10000 (100 %)"))
    wanted = {*data.ticket_types, *data.unlocks}
    if wanted:
        known = set(
            await session.scalars(
                select(TicketType.id).where(
                    TicketType.event_id == event.id, TicketType.id.in_(wanted)
                )
            )
        )
        for name in ("ticket_types", "unlocks"):
            unknown = [str(t) for t in getattr(data, name) if t not in known]
            if unknown:
                problems.append(FieldError(name, f"not of this event: {', '.join(unknown)}"))
    for name in ("valid_from", "valid_until"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            problems.append(FieldError(name, "give a time zone offset"))
    if (
        not problems
        and data.valid_from
        and data.valid_until
        and data.valid_until <= data.valid_from
    ):
        problems.append(FieldError("valid_until", "must be after valid_from"))
    if problems:
        raise ValidationFailed("the promo code has invalid fields", errors=problems)
    clash = await session.scalar(
        select(func.count())
        .select_from(PromoCode)
        .where(
            PromoCode.event_id == event.id,
            PromoCode.code == normalize_code(data.code),
            PromoCode.id != (current or uuid.UUID(int=0)),
        )
    )
    if clash:
        raise Conflict(
            f"the event already has the code {normalize_code(data.code)}",
            errors=[FieldError("code", "already in use for this event")],
        )


def _apply(promo: PromoCode, data: PromoCodeIn) -> None:
    promo.code, promo.kind, promo.value = normalize_code(data.code), data.kind, data.value
    promo.ticket_types = [str(t) for t in dict.fromkeys(data.ticket_types)]
    promo.unlocks = [str(t) for t in dict.fromkeys(data.unlocks)]
    promo.valid_from = ensure_utc(data.valid_from) if data.valid_from else None
    promo.valid_until = ensure_utc(data.valid_until) if data.valid_until else None
    promo.max_uses, promo.max_uses_per_buyer = data.max_uses, data.max_uses_per_buyer


def promo_out(promo: PromoCode) -> PromoCodeOut:
    return PromoCodeOut(
        id=promo.id,
        code=promo.code,
        kind=promo.kind,
        value=promo.value,
        ticket_types=[uuid.UUID(t) for t in promo.ticket_types],
        unlocks=[uuid.UUID(t) for t in promo.unlocks],
        valid_from=ensure_utc(promo.valid_from) if promo.valid_from else None,
        valid_until=ensure_utc(promo.valid_until) if promo.valid_until else None,
        max_uses=promo.max_uses,
        max_uses_per_buyer=promo.max_uses_per_buyer,
        uses=promo.uses,
    )


async def create_promo(
    session: AsyncSession, clock: Clock, event: Event, data: PromoCodeIn
) -> PromoCode:
    await _check(session, event, data)
    promo = PromoCode(event_id=event.id, uses=0, created_at=clock.now())
    _apply(promo, data)
    session.add(promo)
    await session.flush()
    return promo


async def get_promo(session: AsyncSession, event: Event, promo_id: uuid.UUID) -> PromoCode:
    return await event_row(session, PromoCode, promo_id, event, "promo code")


async def update_promo(
    session: AsyncSession, event: Event, promo_id: uuid.UUID, data: PromoCodeIn
) -> PromoCode:
    promo = await get_promo(session, event, promo_id)
    await _check(session, event, data, current=promo.id)
    if data.max_uses is not None and data.max_uses < promo.uses:
        raise RuleViolated(
            f"it was used {promo.uses} times already",
            errors=[FieldError("max_uses", f"at least {promo.uses}")],
        )
    _apply(promo, data)
    return promo


async def promos_of(session: AsyncSession, event_id: uuid.UUID) -> list[PromoCode]:
    return list(
        await session.scalars(
            select(PromoCode).where(PromoCode.event_id == event_id).order_by(PromoCode.code)
        )
    )
