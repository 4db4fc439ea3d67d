"""The ``webhook`` notification channel: each message POSTed as JSON to an HTTPS endpoint
you run (your push service, a chat bot, an app backend), signed so it can prove it came
from boxoffice::

    [providers.webhook]
    url = "https://push.example.org/boxoffice"
    secret = "env:PUSH_WEBHOOK_SECRET"     # 32 characters or more
    kinds = ["push"]

    [[routing.notifications]]
    kind = "push"
    providers = ["webhook"]

The body is ``{"id", "kind", "to", "subject", "text", "template", "locale", "purpose"}``;
``Idempotency-Key`` carries the message id (the same on a retry: deliver once). The
``Boxoffice-Signature`` header is ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
under the secret (:mod:`boxoffice.core.webhooks.signing`, shared with the organizations'
webhooks); a receiver checks it with :func:`verify` (or the recipe in docs/webhooks.md) and
refuses a timestamp older than five minutes. A 2xx answer is delivered; 4xx (but 408 and 429)
is permanent; anything else is retried by the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.notify.channel import DeliveryResult, Message, undeliverable_reason
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.webhooks.signing import HEADER, TOLERANCE_SECONDS, sign, verify

SIGNATURE_HEADER = HEADER
__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE_SECONDS",
    "WebhookChannel",
    "WebhookOptions",
    "sign",
    "verify",
]


class WebhookOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str
    secret: str
    kinds: tuple[str, ...] = ("push",)
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("url must be an http(s) URL")
        if len(self.secret) < 32:
            raise ValueError("secret needs 32 characters or more")


class WebhookChannel:
    id = "webhook"

    def __init__(self, options: WebhookOptions) -> None:
        self.options = options
        self.kinds = frozenset(options.kinds)

    async def send(self, message: Message) -> DeliveryResult:
        problem = undeliverable_reason(message)
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        body = msgspec.json.encode(
            {
                "id": message.message_id,
                "kind": message.kind,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                "template": message.template,
                "locale": message.locale,
                "purpose": message.purpose,
            }
        )
        headers = {
            "content-type": "application/json",
            "idempotency-key": message.message_id,
            SIGNATURE_HEADER: sign(self.options.secret, body, int(time.time())),
        }
        try:
            async with httpx.AsyncClient(timeout=self.options.timeout_seconds) as http:
                answer = await http.post(self.options.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return DeliveryResult(delivered=False, detail=f"webhook: {type(error).__name__}")
        if 200 <= answer.status_code < 300:
            reference = answer.headers.get("x-request-id", message.message_id)
            return DeliveryResult(delivered=True, provider_reference=reference)
        return DeliveryResult(
            delivered=False,
            permanent_failure=400 <= answer.status_code < 500
            and answer.status_code not in (408, 429),
            detail=f"the endpoint answered {answer.status_code}",
        )

    async def health(self) -> ProviderHealth:
        # Reaching the endpoint is all that can be asked without sending a message.
        try:
            async with httpx.AsyncClient(timeout=self.options.timeout_seconds) as http:
                answer = await http.head(self.options.url)
        except httpx.HTTPError as error:
            return ProviderHealth(HealthState.DOWN, detail=f"webhook: {type(error).__name__}")
        if answer.status_code >= 500:
            return ProviderHealth(HealthState.DOWN, detail=f"webhook: {answer.status_code}")
        return ProviderHealth(HealthState.UP, detail=self.options.url)


@hookimpl
def register_notification_channels(context: PluginContext) -> Sequence[WebhookChannel]:
    if "webhook" not in context.configured():
        return []
    return [WebhookChannel(context.options("webhook", WebhookOptions))]
