"""Local HTTP fakes of paid services (payment gateways) that speak their wire format, so that
a provider's real SDK code runs in tests: request shapes, authentication headers, error
mapping. Each fake is a real HTTP server on a free loopback port, with helpers for what a
buyer or the provider would do (pay, refund at the dashboard, send a signed webhook) and
for outages (fail the next calls). A third-party gateway's tests can follow the same
pattern with :class:`FakeServer`."""

from boxoffice.testing.fakes.base import FakeServer, Reply
from boxoffice.testing.fakes.stripe import FakeStripe

__all__ = ["FakeServer", "FakeStripe", "Reply"]
