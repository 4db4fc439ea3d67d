"""How boxoffice signs what it POSTs to other people's servers, one way for all of it: the
organizations' webhooks (:mod:`.delivery`) and the ``webhook`` notification channel.

``Boxoffice-Signature: t=<unix seconds>,v1=<hex>`` where the hex is HMAC-SHA256 over
``"<t>." + body`` with the shared secret (the shape Stripe uses, which many receivers know).
The timestamp inside the signed text lets a receiver refuse old replays. docs/webhooks.md
has the receiver's recipe, which a test runs as written."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Boxoffice-Signature"
#: How old a signature a receiver accepts (seconds).
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Boxoffice-Signature`` header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """What a receiver runs: the header is well formed, recent, and its MAC matches."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())
