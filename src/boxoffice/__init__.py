"""boxoffice: event management and ticketing.

This module is the plugin author's API: everything a plugin needs is importable from here
(the hook marker, the provider protocols and the records they exchange, money, clocks, the
errors a provider raises, the bulkhead for synchronous SDKs). The conformance suites for a
plugin's tests are in :mod:`boxoffice.testing`.
"""

from boxoffice.core.clock import Clock, ManualClock, SystemClock
from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import (
    BusinessRules,
    ComplianceRegion,
    PrivacyRegime,
    TaxComponent,
    TaxQuery,
    TaxTreatment,
)
from boxoffice.core.errors import (
    BoxofficeError,
    ConfigurationError,
    Conflict,
    FieldError,
    NotFound,
    ProviderUnavailable,
    RuleViolated,
    ValidationFailed,
    WebhookRejected,
)
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.identity.provider import ExternalProfile, IdentityProvider
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.media.store import MediaStore
from boxoffice.core.money import Money
from boxoffice.core.notify.channel import (
    DeliveryResult,
    Message,
    NotificationChannel,
    undeliverable_reason,
)
from boxoffice.core.payments.gateway import (
    CompletesPayments,
    GatewayCapability,
    PaymentAttempt,
    PaymentGateway,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.core.search.backend import SearchBackend, SearchDocument, SearchHit, query_terms
from boxoffice.core.tickets.formats import TicketDocument, TicketFormat

__version__ = "0.1.0"

__all__ = [
    "BoxofficeError",
    "Bulkhead",
    "BusinessRules",
    "Clock",
    "CompletesPayments",
    "ComplianceRegion",
    "ConfigurationError",
    "Conflict",
    "DeliveryResult",
    "ExternalProfile",
    "FieldError",
    "GatewayCapability",
    "HealthState",
    "IdentityProvider",
    "ManualClock",
    "MediaStore",
    "Message",
    "Money",
    "NotFound",
    "NotificationChannel",
    "PaymentAttempt",
    "PaymentGateway",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "PluginContext",
    "PrivacyRegime",
    "ProviderHealth",
    "ProviderUnavailable",
    "RateTable",
    "RecordedEntry",
    "RefundRequest",
    "RefundResult",
    "RuleViolated",
    "SearchBackend",
    "SearchDocument",
    "SearchHit",
    "SystemClock",
    "TabledRegion",
    "TaxComponent",
    "TaxQuery",
    "TaxTreatment",
    "TicketDocument",
    "TicketFormat",
    "ValidationFailed",
    "WebhookEvent",
    "WebhookRejected",
    "__version__",
    "hookimpl",
    "query_terms",
    "undeliverable_reason",
]
