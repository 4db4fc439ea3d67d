from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict
from boxoffice.core.identity.entries import OrganizationCreated
from boxoffice.core.identity.models import Organization
from boxoffice.core.journal import append


async def create_organization(
    session: AsyncSession, clock: Clock, *, slug: str, name: str, contact_email: str = ""
) -> Organization:
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"an organization with the slug {slug!r} exists already")
    organization = Organization(
        slug=slug, name=name, contact_email=contact_email, created_at=clock.now()
    )
    session.add(organization)
    await session.flush()
    await append(
        session,
        OrganizationCreated(organization_id=str(organization.id), slug=slug, name=name),
        clock,
    )
    return organization


async def find_organization(session: AsyncSession, slug: str) -> Organization | None:
    result: Organization | None = await session.scalar(
        select(Organization).where(Organization.slug == slug)
    )
    return result
