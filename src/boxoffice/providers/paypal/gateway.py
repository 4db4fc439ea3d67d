"""The ``paypal`` gateway itself: the part that needs the SDK, imported only when ops
configure ``[providers.paypal]`` (the SDK costs a process tens of MB and a tenth of a second)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec
from paypalserversdk.configuration import Configuration, Environment
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from boxoffice.core.errors import NotFound, RuleViolated, WebhookRejected
from boxoffice.core.payments.gateway import (
    GatewayCapability,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.providers.paypal import (
    BASE_URLS,
    CAPTURE_STATUS,
    CURRENCIES,
    EVENTS,
    ORDER_STATUS,
    TRANSMISSION_HEADERS,
    PayPalOptions,
    paypal_value,
)


class _Configuration(Configuration):  # type: ignore[misc]
    """The SDK's configuration, pointed at ``api_base``."""

    api_base = ""

    def get_base_uri(self, server: Any = None) -> str:
        return self.api_base


class PayPalGateway:
    id = "paypal"
    capabilities = frozenset(
        {
            GatewayCapability.REDIRECT,
            GatewayCapability.REFUND,
            GatewayCapability.PARTIAL_REFUND,
            GatewayCapability.WEBHOOKS,
            # The buyer approves on PayPal's page, which runs 3-D Secure for cards.
            GatewayCapability.STRONG_AUTHENTICATION,
        }
    )
    countries: frozenset[str] | None = None

    def __init__(self, options: PayPalOptions) -> None:
        self.options = options
        self.display_name = options.display_name
        self.currencies: frozenset[str] | None = (
            frozenset(c.upper() for c in options.currencies) & CURRENCIES
            if options.currencies
            else CURRENCIES
        )
        self.api_base = options.api_base or BASE_URLS[options.environment]
        config = _Configuration(
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=options.client_id, o_auth_client_secret=options.client_secret
            ),
            environment=Environment.PRODUCTION
            if options.environment == "live"
            else Environment.SANDBOX,
            timeout=options.timeout,
            max_retries=0,  # the platform retries (boxoffice.core.resilience)
        )
        config.api_base = self.api_base
        self._client = PaypalServersdkClient(config=config)
        self._bulkhead = Bulkhead(options.max_concurrency)
        self._token: tuple[str, float] | None = None

    async def _call(self, call: Callable[[], Any]) -> Any:
        """An SDK call in a worker thread; PayPal's refusals mapped to the platform's errors
        (its 5xx and network errors raise as they are: retried, counted by the breaker)."""
        try:
            response = await self._bulkhead.run(call)
        except ApiException as error:
            status = getattr(error, "response_code", 0) or 0
            issue = _issue(error)
            if status == 404:
                raise NotFound(f"PayPal: {issue or 'no such resource'}") from error
            if 400 <= status < 500 and status != 401:
                raise RuleViolated(
                    f"PayPal refused the request: {issue or status}",
                    extra={"rule": "gateway_refused", "issue": issue},
                ) from error
            raise
        return response.body

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        currency = request.amount.currency
        if self.currencies is not None and currency not in self.currencies:
            raise RuleViolated(
                f"PayPal is not set up for {currency}", extra={"rule": "gateway_currency"}
            )
        unit: dict[str, Any] = {
            "reference_id": request.order_reference[:256],
            "custom_id": request.payment_id[:127],
            "description": (request.description or f"Order {request.order_reference}")[:127],
            "amount": {"currency_code": currency, "value": paypal_value(request.amount)},
        }
        context: dict[str, Any] = {"user_action": "PAY_NOW"}
        if request.return_url:
            context |= {"return_url": request.return_url, "cancel_url": request.cancel_url}
        body = {
            "intent": "CAPTURE",
            "purchase_units": [unit],
            "payment_source": {"paypal": {"experience_context": context}},
        }
        order = await self._call(
            lambda: self._client.orders.create_order(
                {
                    "body": body,
                    "paypal_request_id": request.idempotency_key,
                    "prefer": "return=representation",
                }
            )
        )
        approve = next(
            (link.href for link in order.links or [] if link.rel in ("payer-action", "approve")),
            "",
        )
        return PaymentResult(
            status=ORDER_STATUS.get(order.status, PaymentStatus.PENDING),
            provider_reference=order.id,
            redirect_url=approve,
        )

    async def complete(self, provider_reference: str, params: Mapping[str, str]) -> PaymentStatus:
        """The buyer is back from PayPal (``token`` is the order they approved): capture."""
        if params.get("token", provider_reference) != provider_reference:
            raise WebhookRejected("the buyer came back from another PayPal order")
        return await self.fetch_status(provider_reference)

    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        """The order's status; an approved order is captured first (PayPal-Request-Id makes
        a repeated capture the same one)."""
        order = await self._call(lambda: self._client.orders.get_order({"id": provider_reference}))
        if order.status == "APPROVED":
            try:
                order = await self._call(
                    lambda: self._client.orders.capture_order(
                        {
                            "id": provider_reference,
                            "paypal_request_id": f"capture-{provider_reference}",
                            "prefer": "return=representation",
                        }
                    )
                )
            except RuleViolated as refusal:  # captured meanwhile by another process
                if refusal.extra.get("issue") != "ORDER_ALREADY_CAPTURED":
                    raise
                order = await self._call(
                    lambda: self._client.orders.get_order({"id": provider_reference})
                )
        if order.status != "COMPLETED":
            return ORDER_STATUS.get(order.status, PaymentStatus.PENDING)
        capture = _capture_of(order)
        return CAPTURE_STATUS.get(capture.status if capture else "", PaymentStatus.SUCCEEDED)

    async def refund(self, request: RefundRequest) -> RefundResult:
        order = await self._call(
            lambda: self._client.orders.get_order({"id": request.provider_reference})
        )
        capture = _capture_of(order)
        if capture is None:
            raise RuleViolated("PayPal has no capture to refund for this order")
        refund = await self._call(
            lambda: self._client.payments.refund_captured_payment(
                {
                    "capture_id": capture.id,
                    "paypal_request_id": request.idempotency_key,
                    "prefer": "return=representation",
                    "body": {
                        "amount": {
                            "currency_code": request.amount.currency,
                            "value": paypal_value(request.amount),
                        },
                        "custom_id": request.refund_id[:127],
                    },
                }
            )
        )
        if refund.status in ("CANCELLED", "FAILED"):
            raise RuleViolated(f"PayPal could not make the refund ({refund.status})")
        return RefundResult(
            succeeded=refund.status == "COMPLETED",
            pending=refund.status == "PENDING",
            provider_reference=refund.id,
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        signed = {name: lowered.get(f"paypal-{name}", "") for name in TRANSMISSION_HEADERS}
        if not all(signed.values()):
            raise WebhookRejected("the PayPal transmission headers are missing")
        try:
            event = msgspec.json.decode(body)
            if not isinstance(event, dict):
                raise TypeError("not an object")
        except (msgspec.DecodeError, TypeError) as error:
            raise WebhookRejected("not a PayPal event") from error
        verdict = await self._post(
            "/v1/notifications/verify-webhook-signature",
            {
                "transmission_id": signed["transmission-id"],
                "transmission_time": signed["transmission-time"],
                "transmission_sig": signed["transmission-sig"],
                "cert_url": signed["cert-url"],
                "auth_algo": signed["auth-algo"],
                "webhook_id": self.options.webhook_id,
                "webhook_event": event,
            },
        )
        if verdict.get("verification_status") != "SUCCESS":
            raise WebhookRejected("PayPal did not verify the webhook's signature")
        status = EVENTS.get(str(event.get("event_type")))
        if status is None:
            return None
        resource = event.get("resource") or {}
        reference = (
            resource.get("id")
            if str(event["event_type"]).startswith("CHECKOUT.")
            else ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get(
                "order_id"
            )
        )
        if not isinstance(reference, str) or not reference or not event.get("id"):
            return None  # nothing that names an order the platform knows
        return WebhookEvent(
            provider_event_id=str(event["id"]), provider_reference=reference, status=status
        )

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A call the SDK has no method for, with an OAuth token of its own."""
        async with httpx.AsyncClient(base_url=self.api_base, timeout=self.options.timeout) as http:
            if self._token is None or self._token[1] < time.monotonic():
                granted = await http.post(
                    "/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.options.client_id, self.options.client_secret),
                )
                granted.raise_for_status()
                token = granted.json()
                self._token = (
                    token["access_token"],
                    time.monotonic() + int(token.get("expires_in", 300)) - 60,
                )
            answer = await http.post(
                path, json=body, headers={"authorization": f"Bearer {self._token[0]}"}
            )
            answer.raise_for_status()
            result: dict[str, Any] = answer.json()
            return result

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


def _capture_of(order: Any) -> Any | None:
    for unit in order.purchase_units or []:
        captures = getattr(getattr(unit, "payments", None), "captures", None) or []
        if captures:
            return captures[0]
    return None


def _issue(error: ApiException) -> str:
    details = getattr(error, "details", None) or []
    first = details[0] if details else None
    issue = getattr(first, "issue", None) if first is not None else None
    return str(issue or getattr(error, "name", "") or "")
