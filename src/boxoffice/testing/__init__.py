"""The plugin author's kit: conformance suites, fixtures and throwaway servers.

Installing boxoffice installs its pytest plugin (:mod:`boxoffice.testing.plugin`, fixtures
named ``boxoffice_*``); this package holds what a test module imports::

    from boxoffice.testing import PaymentGatewayConformance

    class TestAcmePay(PaymentGatewayConformance):
        @pytest.fixture
        def gateway(self):
            return AcmePay(Options(api_key="test"))

It needs nothing beyond boxoffice and pytest: the suites' async tests run through AnyIO's
pytest plugin, which comes with boxoffice's dependencies. See docs/plugins.md.
"""

from boxoffice.testing.conformance import (
    ComplianceRegionConformance,
    ConformanceSuite,
    MediaStoreConformance,
    NotificationChannelConformance,
    PaymentGatewayConformance,
    SearchBackendConformance,
    TaxExample,
)
from boxoffice.testing.databases import TemplateDatabases
from boxoffice.testing.postgres import PostgresServer, find_postgres_bindir
from boxoffice.testing.servers import ServerProcesses

__all__ = [
    "ComplianceRegionConformance",
    "ConformanceSuite",
    "MediaStoreConformance",
    "NotificationChannelConformance",
    "PaymentGatewayConformance",
    "PostgresServer",
    "SearchBackendConformance",
    "ServerProcesses",
    "TaxExample",
    "TemplateDatabases",
    "find_postgres_bindir",
]
