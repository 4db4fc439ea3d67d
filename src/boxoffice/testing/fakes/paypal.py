"""A fake of the part of PayPal's REST API the ``paypal`` gateway uses: OAuth client
credentials, Orders v2 (create with ``PayPal-Request-Id``, get, capture), refunds of
captures, and webhook signature verification (``/v1/notifications/verify-webhook-signature``:
the fake signs the webhooks it sends and checks them as PayPal does, by API call)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from typing import Any

from boxoffice.testing.fakes.base import FakeServer, Reply

CLIENT_ID = "boxoffice-fake-client"
CLIENT_SECRET = "boxoffice-fake-secret"  # noqa: S105 - the fake's own test secret
WEBHOOK_ID = "WH-BOXOFFICE-FAKE"
_SIGNING_KEY = b"the fake's signing key"
_ids = itertools.count(1)


def _error(status: int, name: str, issue: str = "") -> Reply:
    body: dict[str, Any] = {"name": name, "message": name.replace("_", " ").lower()}
    if issue:
        body["details"] = [{"issue": issue}]
    return Reply(status, body)


class FakePayPal(FakeServer):
    def __init__(
        self,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        webhook_id: str = WEBHOOK_ID,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.webhook_id = client_id, client_secret, webhook_id
        self.orders: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._tokens: set[str] = set()
        self._replies: dict[str, Reply] = {}

    # ---- what the buyer and PayPal do

    def approve(self, order_id: str) -> dict[str, Any]:
        """The buyer approves the order on PayPal's page."""
        order = self.orders[order_id]
        order["status"] = "APPROVED"
        return order

    def pay(self, order_id: str) -> dict[str, Any]:
        """Approved and captured (as if the platform had captured it)."""
        self.approve(order_id)
        return self._capture(self.orders[order_id])

    def webhook(self, event_type: str, resource: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        event = {
            "id": f"WH-EVT-{next(_ids):06d}",
            "event_type": event_type,
            "resource_type": "checkout-order" if event_type.startswith("CHECKOUT") else "capture",
            "resource": dict(resource),
        }
        transmission = f"tx-{next(_ids):06d}"
        stamp = "2026-11-30T00:00:00Z"
        headers = {
            "content-type": "application/json",
            "paypal-transmission-id": transmission,
            "paypal-transmission-time": stamp,
            "paypal-transmission-sig": self._signature(transmission, stamp, event),
            "paypal-cert-url": f"{self.url}/certs/fake.pem",
            "paypal-auth-algo": "SHA256withRSA",
        }
        return headers, json.dumps(event).encode()

    def _signature(self, transmission: str, stamp: str, event: Mapping[str, Any]) -> str:
        signed = f"{transmission}|{stamp}|{self.webhook_id}|{json.dumps(event, sort_keys=True)}"
        return base64.b64encode(
            hmac.new(_SIGNING_KEY, signed.encode(), hashlib.sha256).digest()
        ).decode()

    # ---- the API

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if path == "/v1/oauth2/token":
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if headers.get("authorization") != f"Basic {basic}":
                return Reply(401, {"error": "invalid_client"})
            token = f"A21-{next(_ids):06d}"
            self._tokens.add(token)
            return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 32400})
        if headers.get("authorization", "").removeprefix("Bearer ") not in self._tokens:
            return _error(401, "AUTHENTICATION_FAILURE")
        data: dict[str, Any] = json.loads(body) if body else {}
        key = headers.get("paypal-request-id", "")
        if method == "POST" and key and f"{path}|{key}" in self._replies:
            return self._replies[f"{path}|{key}"]
        reply = self._route(method, path.split("?", 1)[0], data)
        if method == "POST" and key and reply.status < 500:
            self._replies[f"{path}|{key}"] = reply
        return reply

    def _route(self, method: str, path: str, data: dict[str, Any]) -> Reply:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v2/checkout/orders":
            return self._create(data)
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            expected = self._signature(
                str(data.get("transmission_id")),
                str(data.get("transmission_time")),
                data.get("webhook_event") or {},
            )
            good = data.get("webhook_id") == self.webhook_id and hmac.compare_digest(
                expected, str(data.get("transmission_sig"))
            )
            return Reply(200, {"verification_status": "SUCCESS" if good else "FAILURE"})
        if parts[:3] == ["v2", "checkout", "orders"] and len(parts) >= 4:
            order = self.orders.get(parts[3])
            if order is None:
                return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            if len(parts) == 4 and method == "GET":
                return Reply(200, order)
            if parts[4:] == ["capture"] and method == "POST":
                if order["status"] == "COMPLETED":
                    return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
                if order["status"] != "APPROVED":
                    return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
                return Reply(201, self._capture(order))
        if parts[:3] == ["v2", "payments", "captures"] and parts[4:] == ["refund"]:
            return self._refund(parts[3], data)
        return _error(404, "RESOURCE_NOT_FOUND")

    def _create(self, data: dict[str, Any]) -> Reply:
        units = data.get("purchase_units") or []
        amount = (units[0].get("amount") if units else None) or {}
        if data.get("intent") != "CAPTURE" or not amount.get("value"):
            return _error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
        order_id = f"{next(_ids):06d}FAKE{next(_ids):06d}"
        order: dict[str, Any] = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [dict(units[0])],
            "links": [
                {
                    "href": f"{self.url}/checkoutnow?token={order_id}",
                    "rel": "payer-action",
                    "method": "GET",
                },
                {
                    "href": f"{self.url}/v2/checkout/orders/{order_id}",
                    "rel": "self",
                    "method": "GET",
                },
            ],
        }
        self.orders[order_id] = order
        return Reply(201, order)

    def _capture(self, order: dict[str, Any]) -> dict[str, Any]:
        unit = order["purchase_units"][0]
        unit["payments"] = {
            "captures": [
                {
                    "id": f"CAP-{next(_ids):06d}",
                    "status": "COMPLETED",
                    "amount": dict(unit["amount"]),
                    "custom_id": unit.get("custom_id"),
                    "refunded": "0",
                }
            ]
        }
        order["status"] = "COMPLETED"
        return order

    def _refund(self, capture_id: str, data: dict[str, Any]) -> Reply:
        for order in self.orders.values():
            for capture in order["purchase_units"][0].get("payments", {}).get("captures", []):
                if capture["id"] != capture_id:
                    continue
                total = _minor(capture["amount"]["value"])
                done = _minor(capture["refunded"])
                amount = _minor(
                    (data.get("amount") or {}).get("value") or capture["amount"]["value"]
                )
                if amount > total - done:
                    return _error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
                capture["refunded"] = _major(done + amount)
                capture["status"] = "REFUNDED" if done + amount == total else "PARTIALLY_REFUNDED"
                refund_id = f"REF-{next(_ids):06d}"
                refund: dict[str, Any] = {
                    "id": refund_id,
                    "status": "COMPLETED",
                    "amount": {
                        "currency_code": capture["amount"]["currency_code"],
                        "value": _major(amount),
                    },
                    "custom_id": data.get("custom_id"),
                }
                self.refunds[refund_id] = refund
                return Reply(201, refund)
        return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")


def _minor(value: str) -> int:
    whole, _, cents = value.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def _major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"
