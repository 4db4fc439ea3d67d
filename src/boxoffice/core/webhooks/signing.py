"""Signing deliveries: ``Boxoffice-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256 over ``"<t>." + body`` with the endpoint's secret (the shape Stripe uses, which
many receivers know). The timestamp inside the signed text lets a receiver refuse old
replays; docs/webhooks.md has the receiver's recipe, which a test runs as written."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Boxoffice-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
