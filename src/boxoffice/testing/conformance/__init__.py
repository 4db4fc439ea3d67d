"""Conformance suites, one per provider kind: subclass one and provide the provider."""

from boxoffice.testing.conformance.base import ConformanceSuite
from boxoffice.testing.conformance.media import MediaStoreConformance
from boxoffice.testing.conformance.notifications import NotificationChannelConformance
from boxoffice.testing.conformance.payments import PaymentGatewayConformance
from boxoffice.testing.conformance.regions import ComplianceRegionConformance, TaxExample
from boxoffice.testing.conformance.search import SearchBackendConformance

__all__ = [
    "ComplianceRegionConformance",
    "ConformanceSuite",
    "MediaStoreConformance",
    "NotificationChannelConformance",
    "PaymentGatewayConformance",
    "SearchBackendConformance",
    "TaxExample",
]
