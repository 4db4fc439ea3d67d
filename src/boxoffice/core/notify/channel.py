"""The notification channel protocol: e-mail, SMS, push, or anything a plugin delivers."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.fields import PHONE_PATTERN
from boxoffice.core.providers import ProviderHealth


class Attachment(msgspec.Struct, frozen=True):
    """A file sent with a message (a PDF ticket, a calendar entry)."""

    filename: str
    content_type: str  # "application/pdf", "text/calendar; method=PUBLISH"
    content: bytes


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
    #: "transactional" or "marketing" (a channel may route or label them differently).
    purpose: str = "transactional"
    #: Extra headers an e-mail channel adds (RFC 8058 ``List-Unsubscribe`` on marketing).
    headers: dict[str, str] = {}
    attachments: tuple[Attachment, ...] = ()


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


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(PHONE_PATTERN)


def undeliverable_reason(message: Message) -> str:
    """Why ``message`` can never be delivered as it is (``""`` if nothing is wrong): a line
    break in its recipient or subject (header injection), or a recipient that is not an
    address of its kind (e-mail, or an E.164 phone number for SMS). Channels return such a
    message as a permanent failure instead of handing it to their provider."""
    for name in ("to", "subject"):
        if any(c in getattr(message, name) for c in "\r\n\x00"):
            return f"a line break in {name}"
    if message.kind == "email" and not _EMAIL.match(message.to):
        return "not an e-mail address"
    if message.kind == "sms" and not _PHONE.match(message.to):
        return "not a phone number in international form (+4915...)"
    return ""
