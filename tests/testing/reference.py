"""Small, correct providers of every kind, and broken variants of each.

The correct ones are what a plugin author's provider looks like to its conformance suite
(an in-memory stand-in for the provider's service); each broken one breaks one promise of
its protocol, and ``test_conformance_suites.py`` shows that the suite fails it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from boxoffice import (
    BusinessRules,
    DeliveryResult,
    GatewayCapability,
    HealthState,
    Message,
    Money,
    NotFound,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PrivacyRegime,
    ProviderHealth,
    RefundRequest,
    RefundResult,
    RuleViolated,
    SearchDocument,
    SearchHit,
    TaxComponent,
    TaxQuery,
    TaxTreatment,
    WebhookEvent,
    WebhookRejected,
    query_terms,
    undeliverable_reason,
)
from boxoffice.testing import (
    ComplianceRegionConformance,
    MediaStoreConformance,
    NotificationChannelConformance,
    PaymentGatewayConformance,
    SearchBackendConformance,
    TaxExample,
)

UP = ProviderHealth(HealthState.UP)

# --------------------------------------------------------------------------- payments


class AcmePay:
    """A card gateway with redirects, refunds and HMAC-signed webhooks, against an in-memory
    sandbox (``sandbox_pay`` is the buyer paying with a test card)."""

    id = "acmepay"
    display_name = "AcmePay"
    currencies: frozenset[str] | None = frozenset({"EUR", "SEK"})
    countries: frozenset[str] | None = None
    capabilities = frozenset(
        {
            GatewayCapability.REDIRECT,
            GatewayCapability.REFUND,
            GatewayCapability.PARTIAL_REFUND,
            GatewayCapability.WEBHOOKS,
            # The buyer pays on AcmePay's page, which runs 3-D Secure when asked.
            GatewayCapability.STRONG_AUTHENTICATION,
        }
    )
    WEBHOOK_SECRET = b"whsec_conformance"

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.created: dict[str, PaymentResult] = {}
        self.refunds: dict[str, RefundResult] = {}

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        currency = request.amount.currency
        if self.currencies is not None and currency not in self.currencies:
            raise RuleViolated(f"AcmePay does not take {currency}")
        if request.idempotency_key in self.created:
            return self.created[request.idempotency_key]
        reference = f"acme_{uuid.uuid4().hex[:12]}"
        self.payments[reference] = {
            "amount": request.amount,
            "status": PaymentStatus.REQUIRES_ACTION,
            "refunded": 0,
        }
        result = PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=reference,
            redirect_url=f"https://pay.acme.test/{reference}",
        )
        self.created[request.idempotency_key] = result
        return result

    def sandbox_pay(self, reference: str) -> None:
        self.payments[reference]["status"] = PaymentStatus.SUCCEEDED

    def _payment(self, reference: str) -> dict[str, Any]:
        if reference not in self.payments:
            raise NotFound(f"AcmePay has no payment {reference}")
        return self.payments[reference]

    async def refund(self, request: RefundRequest) -> RefundResult:
        payment = self._payment(request.provider_reference)
        if request.idempotency_key in self.refunds:
            return self.refunds[request.idempotency_key]
        left = payment["amount"].minor - payment["refunded"]
        if request.amount.minor > left:
            raise RuleViolated("more than is left to refund")
        payment["refunded"] += request.amount.minor
        result = RefundResult(succeeded=True, provider_reference=f"re_{uuid.uuid4().hex[:12]}")
        self.refunds[request.idempotency_key] = result
        return result

    @classmethod
    def sign(cls, body: bytes) -> str:
        return hmac.new(cls.WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        signature = headers.get("acme-signature", "")
        if not hmac.compare_digest(signature, self.sign(body)):
            raise WebhookRejected("bad or missing AcmePay signature")
        try:
            data = json.loads(body)
            return WebhookEvent(
                provider_event_id=data["id"],
                provider_reference=data["payment"],
                status=PaymentStatus(data["status"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("not an AcmePay event") from error

    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        status: PaymentStatus = self._payment(provider_reference)["status"]
        return status

    async def health(self) -> ProviderHealth:
        return UP


class AcmePaySuite(PaymentGatewayConformance):
    """The suite as AcmePay's author would subclass it (``gateway_class`` lets the tests of
    the suite swap in a broken variant)."""

    gateway_class: type[AcmePay] = AcmePay

    @pytest.fixture
    def gateway(self) -> AcmePay:
        return self.gateway_class()

    async def settle(self, gateway: Any, payment: PaymentResult) -> bool:
        gateway.sandbox_pay(payment.provider_reference)
        return True

    def signed_webhook(
        self, gateway: Any, payment: PaymentResult, status: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        body = json.dumps(
            {
                "id": f"evt_{payment.provider_reference}_{status}",
                "payment": payment.provider_reference,
                "status": str(status),
            }
        ).encode()
        return {"content-type": "application/json", "acme-signature": AcmePay.sign(body)}, body


class WebhooksAlwaysIgnored(AcmePay):
    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        return None


class SignatureNotChecked(AcmePay):
    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        return await super().parse_webhook({"acme-signature": self.sign(body)}, body)


class ChargesOnEveryRetry(AcmePay):
    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        self.created.clear()
        return await super().create_payment(request)


class TakesUndeclaredCurrencies(AcmePay):
    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        self.currencies = None
        try:
            return await super().create_payment(request)
        finally:
            self.currencies = AcmePay.currencies


class StatusNeverMoves(AcmePay):
    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        self._payment(provider_reference)
        return PaymentStatus.REQUIRES_ACTION


class KnowsEveryReference(AcmePay):
    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        payment = self.payments.get(provider_reference, {"status": PaymentStatus.PENDING})
        status: PaymentStatus = payment["status"]
        return status


class RefundsOnEveryRetry(AcmePay):
    async def refund(self, request: RefundRequest) -> RefundResult:
        self.refunds.clear()
        self._payment(request.provider_reference)["refunded"] = 0
        return await super().refund(request)


class PartialRefundsRefused(AcmePay):
    async def refund(self, request: RefundRequest) -> RefundResult:
        if request.amount.minor < self._payment(request.provider_reference)["amount"].minor:
            raise RuleViolated("whole amounts only")
        return await super().refund(request)


class CrashesOnGarbage(AcmePay):
    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        data = json.loads(body)  # before the signature check: a ValueError escapes
        del data
        return await super().parse_webhook(headers, body)


# --------------------------------------------------------------------------- notifications


class MemoryChannel:
    """E-mail and SMS into a list: the provider's side of the wire."""

    id = "memory"
    kinds = frozenset({"email", "sms"})

    def __init__(self) -> None:
        self.outbox: list[Message] = []

    async def send(self, message: Message) -> DeliveryResult:
        problem = undeliverable_reason(message)
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        self.outbox.append(message)
        return DeliveryResult(delivered=True, provider_reference=message.message_id)

    async def health(self) -> ProviderHealth:
        return UP


class MemoryChannelSuite(NotificationChannelConformance):
    channel_class: type[MemoryChannel] = MemoryChannel

    @pytest.fixture
    def channel(self) -> MemoryChannel:
        return self.channel_class()

    async def delivered(self, channel: Any, message: Message) -> bool:
        return any(
            (m.to, m.subject, m.text) == (message.to, message.subject, message.text)
            for m in channel.outbox
        )


class SaysDeliveredButDrops(MemoryChannel):
    async def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult(delivered=True, provider_reference=message.message_id)


class RaisesOnBadAddresses(MemoryChannel):
    async def send(self, message: Message) -> DeliveryResult:
        if undeliverable_reason(message):
            raise ValueError("bad address")
        return await super().send(message)


class PassesHeaderInjection(MemoryChannel):
    async def send(self, message: Message) -> DeliveryResult:
        if message.kind == "email" and "@" not in message.to:
            return DeliveryResult(delivered=False, permanent_failure=True)
        if message.kind == "sms" and not message.to.startswith("+"):
            return DeliveryResult(delivered=False, permanent_failure=True)
        self.outbox.append(message)
        return DeliveryResult(delivered=True)


class ManglesNonAscii(MemoryChannel):
    async def send(self, message: Message) -> DeliveryResult:
        text = message.text.encode("ascii", "replace").decode()
        return await super().send(
            Message(message.message_id, message.kind, message.to, message.subject, text)
        )


# --------------------------------------------------------------------------- search


class MemorySearch:
    id = "memory-search"

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str], SearchDocument] = {}

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        for document in documents:
            self.documents[(document.kind, document.id)] = document

    async def remove(self, kind: str, ids: Sequence[str]) -> None:
        for document_id in ids:
            self.documents.pop((kind, document_id), None)

    def _matches(self, kind: str, text: str) -> list[SearchHit]:
        terms = query_terms(text)
        hits = []
        for (doc_kind, doc_id), document in self.documents.items():
            if doc_kind != kind or not terms:
                continue
            title = re.findall(r"\w+", document.title.lower())
            body = re.findall(r"\w+", document.body.lower())
            if all(any(w.startswith(t) for w in title) for t in terms):
                hits.append(SearchHit(doc_id, 2.0))
            elif all(any(w.startswith(t) for w in title + body) for t in terms):
                hits.append(SearchHit(doc_id, 1.0))
        return sorted(hits, key=lambda h: (-h.score, h.id))

    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        return self._matches(kind, text)[:limit]

    async def health(self) -> ProviderHealth:
        return UP


class MemorySearchSuite(SearchBackendConformance):
    backend_class: type[MemorySearch] = MemorySearch

    @pytest.fixture
    def backend(self) -> MemorySearch:
        return self.backend_class()


class IgnoresKinds(MemorySearch):
    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        found = self._matches("event", text) + self._matches("note", text)
        return sorted(found, key=lambda h: (-h.score, h.id))[:limit]


class AppendsInsteadOfReplacing(MemorySearch):
    async def index(self, documents: Sequence[SearchDocument]) -> None:
        for document in documents:
            self.documents[(document.kind, f"{document.id}#{len(self.documents)}")] = document

    def _matches(self, kind: str, text: str) -> list[SearchHit]:
        return [SearchHit(h.id.split("#")[0], h.score) for h in super()._matches(kind, text)]

    async def remove(self, kind: str, ids: Sequence[str]) -> None:
        for key in [k for k in self.documents if k[0] == kind and k[1].split("#")[0] in ids]:
            del self.documents[key]


class IgnoresLimit(MemorySearch):
    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        return self._matches(kind, text)


class ChokesOnQuotes(MemorySearch):
    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        if text.count('"') % 2:
            raise SyntaxError("unbalanced quote")
        return await super().search(kind, text, limit, language)


# --------------------------------------------------------------------------- media

SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class MemoryStore:
    id = "memory-store"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    @staticmethod
    def check(key: str) -> str:
        if not SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe media key {key!r}")
        return key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[self.check(key)] = data

    async def delete(self, key: str) -> None:
        self.objects.pop(self.check(key), None)

    async def read(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def url(self, key: str) -> str:
        return f"https://cdn.example.test/{key}"

    async def health(self) -> ProviderHealth:
        return UP


class MemoryStoreSuite(MediaStoreConformance):
    store_class: type[MemoryStore] = MemoryStore

    @pytest.fixture
    def media_store(self) -> MemoryStore:
        return self.store_class()


class NeverReplaces(MemoryStore):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects.setdefault(self.check(key), data)


class AcceptsUnsafeKeys(MemoryStore):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data


class DeletesEverything(MemoryStore):
    async def delete(self, key: str) -> None:
        self.objects.clear()


# --------------------------------------------------------------------------- regions


class Helvetia:
    """Switzerland: VAT included in consumer prices, 8.1 % since 2024 (7.7 % before)."""

    id = "ch"
    name = "Switzerland"
    countries = frozenset({"CH", "LI"})
    subdivisions: frozenset[str] = frozenset()
    organizer_sets_rates = False
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
        tax_id_kind="vat",
    )
    privacy = PrivacyRegime(law="nFADP", retention_days={"orders": 3653, "checkins": 365})
    RATES = [(date(2018, 1, 1), "7.7"), (date(2024, 1, 1), "8.1")]
    ROUNDING = ROUND_HALF_UP

    def rate_percent(self, on: date) -> Any:
        in_force = [Decimal(p) for since, p in self.RATES if since <= on]
        return in_force[-1] if in_force else None

    def levied_by(self, query: TaxQuery) -> str:
        return query.country

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        percent = self.rate_percent(query.on)
        if query.country not in self.countries or percent is None:
            return None
        mwst = TaxComponent(name="MWST", jurisdiction=self.levied_by(query), percent=percent)
        return TaxTreatment(components=(mwst,), rounding=self.ROUNDING)


class HelvetiaSuite(ComplianceRegionConformance):
    region_class: type[Helvetia] = Helvetia

    @pytest.fixture
    def region(self) -> Helvetia:
        return self.region_class()

    @pytest.fixture
    def tax_examples(self) -> list[TaxExample]:
        return [
            TaxExample("CH", date(2024, 6, 1), Money(10000, "CHF"), (Money(749, "CHF"),)),
            TaxExample("CH", date(2024, 6, 1), Money(1000, "CHF"), (Money(75, "CHF"),)),
            TaxExample("CH", date(2023, 6, 1), Money(10770, "CHF"), (Money(770, "CHF"),)),
        ]


class FloatPercent(Helvetia):
    def rate_percent(self, on: date) -> Any:
        found = super().rate_percent(on)
        return None if found is None else float(found)


class RoundsDown(Helvetia):
    ROUNDING = ROUND_DOWN


class RatesRunOut(Helvetia):
    def rate_percent(self, on: date) -> Any:
        return None if on.year > 2025 else super().rate_percent(on)


class AnswersForAnotherCountry(Helvetia):
    def levied_by(self, query: TaxQuery) -> str:
        return "DE"


class InvoiceFieldsUnknown(Helvetia):
    """Requires an invoice field the core cannot fill (so could never check)."""

    business_rules = BusinessRules(invoice_fields=frozenset({"seller.shoe_size"}))


class TaxIdsStdnumDoesNotKnow(Helvetia):
    business_rules = BusinessRules(tax_id_kind="shoe")


class KeepsWhatTheCoreDoesNot(Helvetia):
    """Sets a retention period for records the platform does not keep, and none for orders."""

    privacy = PrivacyRegime(law="nFADP", retention_days={"diaries": 30})


class SubdivisionsOfAnotherCountry(Helvetia):
    """Lists a subdivision of a country it does not cover: events there would be asked for
    a place the pack cannot tax."""

    subdivisions = frozenset({"DE-BY"})


class OldRateForever(Helvetia):
    RATES = [(date(2018, 1, 1), "7.7")]
