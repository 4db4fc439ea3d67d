"""A buyer's client, and an event set up the way organizers do, for the booking tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import Event, Quota, TicketType
from boxoffice.core.catalog.schemas import QuotaIn, TicketTypeIn
from boxoffice.core.catalog.service import change_status
from boxoffice.core.catalog.tickets import create_quota, create_ticket_type
from boxoffice.core.clock import Clock
from boxoffice.core.money import Price
from boxoffice.core.storage import Database
from tests import factories


@dataclass
class Shop:
    """An event with ticket types (by name) and quotas (by name)."""

    event: Event
    types: dict[str, uuid.UUID] = field(default_factory=dict)
    quotas: dict[str, uuid.UUID] = field(default_factory=dict)


async def shop(
    db: Database,
    clock: Clock,
    *,
    types: dict[str, int] | None = None,
    quotas: dict[str, tuple[int, list[str]]] | None = None,
    **event: Any,
) -> Shop:
    """``types``: name -> price (EUR minor units); ``quotas``: name -> (capacity, type names).
    Defaults: one "Standard" ticket at 25.00 in a quota of 10."""
    types = types if types is not None else {"Standard": 2500}
    quotas = quotas if quotas is not None else {"Hall": (10, list(types))}
    created = await factories.event(db, clock, publish=False, **event)
    result = Shop(created)
    async with db.transaction() as session:
        for name, price in types.items():
            ticket_type = await create_ticket_type(
                session,
                clock,
                created,
                TicketTypeIn(name=name, price=Price(price, created.currency), max_per_order=20),
            )
            result.types[name] = ticket_type.id
        for name, (capacity, members) in quotas.items():
            quota = await create_quota(
                session,
                clock,
                created,
                QuotaIn(
                    name=name, capacity=capacity, ticket_types=[result.types[m] for m in members]
                ),
            )
            result.quotas[name] = quota.id
        await change_status(
            session, clock, created.id, EventStatus.PUBLISHED, regions=factories.bundled_regions
        )
    return result


async def counts(db: Database, quota_id: uuid.UUID) -> tuple[int, int, int]:
    """(capacity, sold, held) of a quota, read fresh."""
    async with db.read() as session:
        quota = (await session.scalars(select(Quota).where(Quota.id == quota_id))).one()
        return quota.capacity, quota.sold, quota.held


async def ticket_type(db: Database, ticket_type_id: uuid.UUID) -> TicketType:
    async with db.read() as session:
        found = await session.get(TicketType, ticket_type_id)
        assert found is not None
        return found


class Buyer:
    """What a ticket buyer's browser does, over HTTP."""

    def __init__(self, client: Any, shop: Shop, email: str = "buyer@example.org") -> None:
        self.client, self.shop, self.email = client, shop, email

    async def hold(
        self,
        headers: dict[str, str] | None = None,
        access_code: str | None = None,
        promo_code: str | None = None,
        **quantities: int,
    ) -> Any:
        body: dict[str, Any] = {
            "items": [
                {"ticket_type_id": str(self.shop.types[name]), "quantity": n}
                for name, n in quantities.items()
            ]
        }
        if access_code:
            body["access_code"] = access_code
        if promo_code:
            body["promo_code"] = promo_code
        return await self.client.post(
            f"/api/v1/events/{self.shop.event.id}/holds", json=body, headers=headers or {}
        )

    async def order(
        self, hold: dict[str, Any], headers: dict[str, str] | None = None, **extra: Any
    ) -> Any:
        body = {
            "secret": hold["secret"],
            "buyer": {"name": "Ada Buyer", "email": self.email},
            **extra,
        }
        return await self.client.post(
            f"/api/v1/holds/{hold['id']}/order", json=body, headers=headers or {}
        )

    async def buy(self, **quantities: int) -> dict[str, Any]:
        held = await self.hold(**quantities)
        assert held.status_code == 201, held.text
        placed = await self.order(held.json())
        assert placed.status_code == 201, placed.text
        result: dict[str, Any] = placed.json()
        return result


async def organizer_shop(
    client: Any,
    platform: Any,
    clock: Clock,
    email: str = "boss@example.org",
    smtp: Any = None,
    **kwargs: Any,
) -> tuple[Shop, dict[str, str], str]:
    """A shop in an organization whose owner signed up over HTTP: (shop, auth headers, base
    URL of the event's organizer routes)."""
    from boxoffice.core.identity.models import Organization
    from tests.identity.helpers import auth, organization, sign_up

    tokens = await sign_up(client, platform, email, smtp=smtp)
    org_id = (await organization(client, tokens, email.split("@")[0]))["id"]
    async with platform.db.read() as session:
        org = await session.get(Organization, uuid.UUID(org_id))
    store = await shop(platform.db, clock, org=org, **kwargs)
    return store, auth(tokens), f"/api/v1/organizations/{org_id}/events/{store.event.id}"


async def assert_books_balance(db: Database) -> dict[str, tuple[int, int, int]]:
    """Every quota's counters equal what the holds and orders say they hold and sold: no
    seat was taken or given back twice, none is held by nothing, and nothing is oversold.
    Returns quota id -> (capacity, sold, held)."""
    from collections import Counter

    from boxoffice.core.booking.models import Hold, Order

    held: Counter[str] = Counter()
    sold: Counter[str] = Counter()
    async with db.read() as session:
        for allocations in await session.scalars(
            select(Hold.allocations).where(Hold.status == "active")
        ):
            held.update(allocations)
        for status, allocations in await session.execute(
            select(Order.status, Order.allocations).where(
                Order.status.in_(["pending", "confirmed"])
            )
        ):
            (held if status == "pending" else sold).update(allocations)
        quotas = list(await session.scalars(select(Quota)))
    result = {}
    for quota in quotas:
        key = str(quota.id)
        assert (quota.sold, quota.held) == (sold[key], held[key]), quota.name
        assert quota.sold + quota.held <= quota.capacity, f"{quota.name} oversold"
        result[key] = (quota.capacity, quota.sold, quota.held)
    return result
