"""Imports every domain's models so that ``Base.metadata`` knows all tables (alembic, tests)."""

from boxoffice.core.analytics.models import OrderSlot, PageViews, PaidOrder, PromoUse, SalesSlot
from boxoffice.core.booking.models import (
    BuyerTally,
    Hold,
    Order,
    OrderItem,
    PromoCode,
    PromoCodeUse,
    Question,
    WaitlistEntry,
)
from boxoffice.core.catalog.models import (
    Category,
    Event,
    Quota,
    QuotaTicketType,
    TicketType,
)
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.idempotency import IdempotencyRecord
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
from boxoffice.core.invoices.models import Invoice, InvoiceSeries
from boxoffice.core.journal.models import (
    JournalCheckpointRow,
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.notify.models import OutboundMessage
from boxoffice.core.payments.models import Payment, Refund, WebhookReceipt
from boxoffice.core.privacy.models import DataExport
from boxoffice.core.ratelimit import RateLimitWindow
from boxoffice.core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "AuthSession",
    "BuyerTally",
    "Category",
    "Checkin",
    "CheckinList",
    "DataExport",
    "Event",
    "ExternalIdentity",
    "Hold",
    "IdempotencyRecord",
    "Invitation",
    "Invoice",
    "InvoiceSeries",
    "JournalCheckpointRow",
    "JournalDeadLetterRow",
    "JournalEntryRow",
    "JournalSubscriberRow",
    "Membership",
    "OneTimeToken",
    "Order",
    "OrderItem",
    "OrderSlot",
    "Organization",
    "OutboundMessage",
    "PageViews",
    "PaidOrder",
    "Payment",
    "PromoCode",
    "PromoCodeUse",
    "PromoUse",
    "Question",
    "Quota",
    "QuotaTicketType",
    "RateLimitWindow",
    "RefreshToken",
    "Refund",
    "SalesSlot",
    "SignInAttempt",
    "TicketType",
    "User",
    "WaitlistEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookReceipt",
]
