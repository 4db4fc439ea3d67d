"""boxoffice: event management and ticketing.

This module is the plugin author's API: everything a plugin needs is importable from here.
"""

from boxoffice.core.compliance.region import ComplianceRegion, TaxRate
from boxoffice.core.errors import BoxofficeError, ConfigurationError, FieldError
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.money import Money
from boxoffice.core.notify.channel import DeliveryResult, Message, NotificationChannel
from boxoffice.core.payments.gateway import (
    GatewayCapability,
    PaymentGateway,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.search.backend import SearchBackend, SearchDocument, SearchHit

__version__ = "0.1.0"

__all__ = [
    "BoxofficeError",
    "ComplianceRegion",
    "ConfigurationError",
    "DeliveryResult",
    "FieldError",
    "GatewayCapability",
    "HealthState",
    "Message",
    "Money",
    "NotificationChannel",
    "PaymentGateway",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "PluginContext",
    "ProviderHealth",
    "RecordedEntry",
    "RefundRequest",
    "RefundResult",
    "SearchBackend",
    "SearchDocument",
    "SearchHit",
    "TaxRate",
    "WebhookEvent",
    "__version__",
    "hookimpl",
]
