"""A fake of the part of Stripe's API the ``stripe`` gateway uses: PaymentIntents (create,
retrieve), Refunds (create), bearer-key authentication, ``Idempotency-Key`` semantics
(the same key and parameters: the same answer; other parameters: an ``idempotency_error``),
Stripe's error bodies, and webhook events signed as Stripe signs them (``Stripe-Signature:
t=...,v1=HMAC-SHA256(secret, "t.payload")``)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from boxoffice.testing.fakes.base import FakeServer, Reply

API_KEY = "sk_test_boxoffice_fake"
WEBHOOK_SECRET = "whsec_boxoffice_fake"  # noqa: S105 - the fake's own test secret
_ids = itertools.count(1)


def _error(status: int, kind: str, message: str, code: str = "") -> Reply:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return Reply(status, {"error": error})


class FakeStripe(FakeServer):
    def __init__(self, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.api_key, self.webhook_secret = api_key, webhook_secret
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._replies: dict[str, tuple[str, Reply]] = {}

    # ---- what the buyer and Stripe do

    def pay(self, intent_id: str) -> dict[str, Any]:
        """The buyer confirms the PaymentIntent with a card that works."""
        intent = self.intents[intent_id]
        intent["status"], intent["amount_received"] = "succeeded", intent["amount"]
        return intent

    def decline(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {"code": "card_declined", "message": "declined"}
        return intent

    def event(self, event_type: str, obj: Mapping[str, Any], event_id: str = "") -> bytes:
        """A webhook event's body."""
        return json.dumps(
            {
                "id": event_id or f"evt_{next(_ids):06d}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "type": event_type,
                "livemode": False,
                "data": {"object": dict(obj)},
            }
        ).encode()

    def sign(self, body: bytes, timestamp: int | None = None, secret: str = "") -> str:
        """The ``Stripe-Signature`` header for ``body``."""
        stamp = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(
            (secret or self.webhook_secret).encode(), f"{stamp}.".encode() + body, hashlib.sha256
        )
        return f"t={stamp},v1={mac.hexdigest()}"

    def webhook(self, event_type: str, obj: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        body = self.event(event_type, obj)
        return {"content-type": "application/json", "stripe-signature": self.sign(body)}, body

    # ---- the API

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        params = dict(parse_qsl(body.decode()))
        key = headers.get("idempotency-key", "")
        if method == "POST" and key:
            seen = self._replies.get(key)
            if seen is not None:
                if seen[0] != f"{path}?{sorted(params.items())}":
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters",
                    )
                return Reply(seen[1].status, seen[1].body, {"idempotent-replayed": "true"})
        reply = self._route(method, path.split("?", 1)[0], params)
        if method == "POST" and key and reply.status < 500:
            self._replies[key] = (f"{path}?{sorted(params.items())}", reply)
        return reply

    def _route(self, method: str, path: str, params: dict[str, str]) -> Reply:
        if method == "POST" and path.startswith("/_fake/pay/"):
            # For load tests in other processes: the buyer pays; the answer is the webhook
            # Stripe would send (headers and body), for the caller to deliver.
            intent = self.intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return _error(404, "invalid_request_error", "No such payment_intent")
            headers, body = self.webhook("payment_intent.succeeded", self.pay(intent["id"]))
            return Reply(200, {"headers": headers, "body": body.decode()})
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(params)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return _error(
                    404, "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            return Reply(200, intent)
        if method == "POST" and path == "/v1/refunds":
            return self._refund(params)
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _create_intent(self, params: dict[str, str]) -> Reply:
        try:
            amount = int(params["amount"])
            currency = params["currency"]
        except (KeyError, ValueError):
            return _error(
                400, "invalid_request_error", "Missing required param: amount.", "parameter_missing"
            )
        if currency != currency.lower() or len(currency) != 3:
            return _error(400, "invalid_request_error", f"Invalid currency: {currency}")
        if amount < 1:
            return _error(
                400, "invalid_request_error", "Amount must be at least 1", "amount_too_small"
            )
        intent_id = f"pi_{next(_ids):06d}fake"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{next(_ids):06d}",
            "automatic_payment_methods": {
                "enabled": params.get("automatic_payment_methods[enabled]") == "true"
            },
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")
            },
            "description": params.get("description"),
            "receipt_email": params.get("receipt_email"),
            "livemode": False,
        }
        self.intents[intent_id] = intent
        return Reply(200, intent)

    def _refund(self, params: dict[str, str]) -> Reply:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return _error(
                404, "invalid_request_error", "No such payment_intent", "resource_missing"
            )
        if intent["status"] != "succeeded":
            return _error(
                400, "invalid_request_error", "This PaymentIntent has no charge to refund"
            )
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        amount = int(params.get("amount", intent["amount"] - refunded))
        if amount > intent["amount"] - refunded:
            return _error(
                400,
                "invalid_request_error",
                "Refund amount is greater than unrefunded amount on charge",
                "amount_too_large",
            )
        refund_id = f"re_{next(_ids):06d}fake"
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        return Reply(200, refund)
