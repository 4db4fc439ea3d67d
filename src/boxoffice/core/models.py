"""Imports every domain's models so that ``Base.metadata`` knows all tables (alembic, tests)."""

from boxoffice.core.catalog.models import (
    Category,
    Event,
    Quota,
    QuotaTicketType,
    TicketType,
)
from boxoffice.core.identity.models import (
    ApiKey,
    AuthSession,
    ExternalIdentity,
    Invitation,
    Membership,
    OneTimeToken,
    Organization,
    RefreshToken,
    SignInAttempt,
    User,
)
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.notify.models import OutboundMessage
from boxoffice.core.ratelimit import RateLimitWindow

__all__ = [
    "ApiKey",
    "AuthSession",
    "Category",
    "Event",
    "ExternalIdentity",
    "Invitation",
    "JournalDeadLetterRow",
    "JournalEntryRow",
    "JournalSubscriberRow",
    "Membership",
    "OneTimeToken",
    "Organization",
    "OutboundMessage",
    "Quota",
    "QuotaTicketType",
    "RateLimitWindow",
    "RefreshToken",
    "SignInAttempt",
    "TicketType",
    "User",
]  # fmt: skip
