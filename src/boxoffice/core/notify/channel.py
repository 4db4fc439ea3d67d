"""The notification channel protocol: e-mail, SMS, push, or anything a plugin delivers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.providers import ProviderHealth


class Message(msgspec.Struct, frozen=True):
    """One message to one recipient, already rendered in the recipient's locale."""

    message_id: str  # stable across retries: channels use it to deliver at most once
    kind: str  # the channel kind: "email", "sms", ...
    to: str
    subject: str
    text: str
    html: str = ""
    locale: str = "en"
    #: A name for what this message is ("order-confirmed"), for logs and templates.
    template: str = ""


class DeliveryResult(msgspec.Struct, frozen=True):
    delivered: bool
    provider_reference: str = ""
    #: A permanent failure (bad address) is not retried; a temporary one is.
    permanent_failure: bool = False
    detail: str = ""


@runtime_checkable
class NotificationChannel(Protocol):
    id: str
    #: The message kinds it can deliver, e.g. ``frozenset({"email"})``.
    kinds: frozenset[str]

    async def send(self, message: Message) -> DeliveryResult: ...

    async def health(self) -> ProviderHealth: ...
