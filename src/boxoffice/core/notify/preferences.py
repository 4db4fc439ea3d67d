"""Who may get marketing: consent and the one-click unsubscribe (RFC 8058).

Transactional messages (an order, a password reset, a change to an event someone has
tickets for) are always sent. Marketing (an organizer's promotional broadcast) goes to an
address only if it consented, through its account's ``marketing_consent`` or a recorded
preference, and never after it unsubscribed: the latest word wins and is kept with when and
how it was said. Every word is also kept for good as a :class:`ConsentRecord` (when, the
version of the wording shown, where): the proof a privacy law asks for.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.identity.models import User
from boxoffice.core.notify.models import ConsentRecord, NotificationPreference

MARKETING = "marketing"
#: The version of the platform's marketing consent wording, recorded with each consent
#: given or withdrawn unless the client names the version it showed (``consent_version``).
MARKETING_TEXT_VERSION = "marketing-2026-11"


async def marketing_allowed(session: AsyncSession, address: str) -> bool:
    said = await session.get(NotificationPreference, address)
    if said is not None:
        return said.marketing
    consent = await session.scalar(select(User.marketing_consent).where(User.email == address))
    return bool(consent)


def record_consent(
    session: AsyncSession,
    clock: Clock,
    address: str,
    *,
    granted: bool,
    source: str,
    text_version: str = MARKETING_TEXT_VERSION,
    purpose: str = MARKETING,
) -> None:
    """Keep what ``address`` said about ``purpose``, for good (see the module's docstring)."""
    session.add(
        ConsentRecord(
            address=address,
            purpose=purpose,
            granted=granted,
            text_version=text_version,
            source=source,
            recorded_at=clock.now(),
        )
    )


async def set_marketing(
    session: AsyncSession,
    clock: Clock,
    address: str,
    *,
    allowed: bool,
    source: str,
    text_version: str = MARKETING_TEXT_VERSION,
) -> None:
    """Record what ``address`` said; an account with that address follows it."""
    now = clock.now()
    record_consent(
        session, clock, address, granted=allowed, source=source, text_version=text_version
    )
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
