"""A fake of the part of Razorpay's API the ``razorpay`` gateway uses: Orders (create, fetch,
list by receipt, their payments), Refunds of a payment (create, list), HTTP Basic
authentication with the key id and secret, Razorpay's error bodies, the Checkout's payment
signature (``HMAC-SHA256(key_secret, "order_id|payment_id")``) and webhooks signed with the
webhook secret (``X-Razorpay-Signature``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from boxoffice.testing.fakes.base import FakeServer, Reply

KEY_ID = "rzp_test_boxofficefake"
KEY_SECRET = "boxoffice_fake_key_secret"  # noqa: S105 - the fake's own test secret
WEBHOOK_SECRET = "boxoffice_fake_webhook_secret"  # noqa: S105 - the fake's own test secret
_ids = itertools.count(1)


def _error(status: int, description: str, code: str = "BAD_REQUEST_ERROR") -> Reply:
    return Reply(status, {"error": {"code": code, "description": description}})


class FakeRazorpay(FakeServer):
    def __init__(
        self,
        key_id: str = KEY_ID,
        key_secret: str = KEY_SECRET,
        webhook_secret: str = WEBHOOK_SECRET,
    ) -> None:
        super().__init__()
        self.key_id, self.key_secret, self.webhook_secret = key_id, key_secret, webhook_secret
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}

    # ---- what the buyer and Razorpay do

    def pay(self, order_id: str) -> dict[str, Any]:
        """The buyer pays the order in Razorpay Checkout: a captured payment."""
        order = self.orders[order_id]
        payment_id = f"pay_{next(_ids):06d}fake"
        payment: dict[str, Any] = {
            "id": payment_id,
            "entity": "payment",
            "amount": order["amount"],
            "currency": order["currency"],
            "status": "captured",
            "order_id": order_id,
            "amount_refunded": 0,
        }
        self.payments[payment_id] = payment
        order.update(status="paid", amount_paid=order["amount"], amount_due=0)
        order["attempts"] += 1
        return payment

    def checkout_signature(self, order_id: str, payment_id: str) -> str:
        """What Checkout hands the buyer's browser with the payment id."""
        message = f"{order_id}|{payment_id}".encode()
        return hmac.new(self.key_secret.encode(), message, hashlib.sha256).hexdigest()

    def webhook(
        self, event: str, payload: Mapping[str, Any], event_id: str = ""
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {"entity": "event", "event": event, "payload": dict(payload), "created_at": 0}
        ).encode()
        signature = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "content-type": "application/json",
            "x-razorpay-signature": signature,
            "x-razorpay-event-id": event_id or f"evt_{next(_ids):06d}",
        }, body

    # ---- the API

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        expected = base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return _error(401, "The api key provided is invalid")
        url = urlsplit(path)
        query = dict(parse_qsl(url.query))
        data: dict[str, Any] = json.loads(body) if body else {}
        parts = url.path.strip("/").split("/")
        if parts[:2] != ["v1", "orders"] and parts[:2] != ["v1", "payments"]:
            return _error(404, "The requested URL was not found on the server.")
        if parts == ["v1", "orders"] and method == "POST":
            return self._create_order(data)
        if parts == ["v1", "orders"] and method == "GET":
            items = [o for o in self.orders.values() if o["receipt"] == query.get("receipt")]
            return Reply(200, {"entity": "collection", "count": len(items), "items": items})
        if len(parts) >= 3 and parts[1] == "orders":
            order = self.orders.get(parts[2])
            if order is None:
                return _error(400, "The id provided does not exist")
            if len(parts) == 3:
                return Reply(200, order)
            items = [p for p in self.payments.values() if p["order_id"] == order["id"]]
            return Reply(200, {"entity": "collection", "count": len(items), "items": items})
        payment = self.payments.get(parts[2]) if len(parts) >= 4 else None
        if payment is None:
            return _error(400, "The id provided does not exist")
        if parts[3] == "refunds":
            items = [r for r in self.refunds.values() if r["payment_id"] == payment["id"]]
            return Reply(200, {"entity": "collection", "count": len(items), "items": items})
        return self._refund(payment, data)

    def _create_order(self, data: dict[str, Any]) -> Reply:
        amount, currency = data.get("amount"), data.get("currency")
        if not isinstance(amount, int) or amount < 100:
            return _error(400, "Order amount less than minimum amount allowed")
        if not isinstance(currency, str) or len(currency) != 3:
            return _error(400, "The currency field is invalid.")
        receipt = data.get("receipt")
        if isinstance(receipt, str) and len(receipt) > 40:
            return _error(400, "The receipt may not be greater than 40 characters.")
        order_id = f"order_{next(_ids):06d}fake"
        order: dict[str, Any] = {
            "id": order_id,
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "status": "created",
            "attempts": 0,
            "notes": data.get("notes") or {},
        }
        self.orders[order_id] = order
        return Reply(200, order)

    def _refund(self, payment: dict[str, Any], data: dict[str, Any]) -> Reply:
        amount = int(data.get("amount", payment["amount"] - payment["amount_refunded"]))
        if amount > payment["amount"] - payment["amount_refunded"]:
            return _error(400, "The refund amount provided is greater than amount captured")
        payment["amount_refunded"] += amount
        if payment["amount_refunded"] == payment["amount"]:
            payment["status"] = "refunded"
        refund_id = f"rfnd_{next(_ids):06d}fake"
        refund: dict[str, Any] = {
            "id": refund_id,
            "entity": "refund",
            "amount": amount,
            "currency": payment["currency"],
            "payment_id": payment["id"],
            "status": "processed",
            "notes": data.get("notes") or {},
        }
        self.refunds[refund_id] = refund
        return Reply(200, refund)
