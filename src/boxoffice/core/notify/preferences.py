"""Who may get marketing: consent and the one-click unsubscribe (RFC 8058).

Transactional messages (an order, a password reset, a change to an event someone has
tickets for) are always sent. Marketing (an organizer's promotional broadcast) goes to an
address only if it consented, through its account's ``marketing_consent`` or a recorded
preference, and never after it unsubscribed: the latest word wins and is kept with when and
how it was said.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.identity.models import User
from boxoffice.core.notify.models import NotificationPreference


async def marketing_allowed(session: AsyncSession, address: str) -> bool:
    said = await session.get(NotificationPreference, address)
    if said is not None:
        return said.marketing
    consent = await session.scalar(select(User.marketing_consent).where(User.email == address))
    return bool(consent)


async def set_marketing(
    session: AsyncSession, clock: Clock, address: str, *, allowed: bool, source: str
) -> None:
    """Record what ``address`` said; an account with that address follows it."""
    now = clock.now()
    said = await session.get(NotificationPreference, address, with_for_update=True)
    if said is None:
        session.add(
            NotificationPreference(
                address=address, marketing=allowed, source=source, changed_at=now
            )
        )
    else:
        said.marketing, said.source, said.changed_at = allowed, source, now
    user = await session.scalar(select(User).where(User.email == address))
    if user is not None and user.marketing_consent != allowed:
        user.marketing_consent = allowed
        user.marketing_consent_at = now  # when the current choice was made
