"""The ``smtp`` notification channel: e-mail through any SMTP server (your provider's relay,
Postfix, a transactional service's SMTP endpoint), with aiosmtplib::

    [providers.smtp]
    host = "smtp.example.org"
    port = 587                     # 465 with tls = "implicit"
    tls = "starttls"               # "implicit", or "none" for a local relay
    username = "env:SMTP_USERNAME"
    password = "env:SMTP_PASSWORD"
    from_address = "tickets@example.org"
    from_name = "Example Tickets"

    [[routing.notifications]]
    kind = "email"
    providers = ["smtp"]

Each e-mail has a plain-text part (and an HTML alternative when the template has one), the
message's attachments (the confirmation's PDF tickets and ``.ics``) and its extra headers
(RFC 8058 ``List-Unsubscribe`` on marketing).

A refusal the server means for good (5xx: no such mailbox) is a permanent failure and is not
retried; anything else (4xx, no answer) is temporary and the outbox tries again later. Each
message carries a ``Message-ID`` made from the platform's message id, so a retried delivery
is recognisable as the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import aiosmtplib
import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.notify.channel import DeliveryResult, Message, undeliverable_reason
from boxoffice.core.notify.mime import email_message
from boxoffice.core.providers import HealthState, ProviderHealth


class SmtpOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str
    from_address: str
    port: int = 587
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str = ""
    password: str = ""
    from_name: str = ""
    #: Seconds for connecting and for each command.
    timeout: float = 20.0


class SmtpChannel:
    id = "smtp"
    kinds = frozenset({"email"})

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options

    def _client(self) -> aiosmtplib.SMTP:
        options = self.options
        return aiosmtplib.SMTP(
            hostname=options.host,
            port=options.port,
            username=options.username or None,
            password=options.password or None,
            use_tls=options.tls == "implicit",
            start_tls=options.tls == "starttls",
            timeout=options.timeout,
        )

    async def send(self, message: Message) -> DeliveryResult:
        problem = undeliverable_reason(message)
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        try:
            async with self._client() as client:
                await client.send_message(
                    email_message(
                        message,
                        from_address=self.options.from_address,
                        from_name=self.options.from_name,
                    )
                )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            return DeliveryResult(
                delivered=False,
                permanent_failure=all(500 <= code < 600 for code in codes),
                detail=f"recipient refused ({', '.join(map(str, codes))})",
            )
        except aiosmtplib.SMTPResponseException as answer:
            return DeliveryResult(
                delivered=False,
                permanent_failure=500 <= answer.code < 600,
                detail=f"the server answered {answer.code}",
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return DeliveryResult(delivered=False, detail=f"no delivery: {type(error).__name__}")
        return DeliveryResult(delivered=True, provider_reference=f"<{message.message_id}>")

    async def health(self) -> ProviderHealth:
        where = f"{self.options.host}:{self.options.port}"
        try:
            async with self._client() as client:
                await client.noop()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return ProviderHealth(HealthState.DOWN, detail=f"{where}: {type(error).__name__}")
        return ProviderHealth(HealthState.UP, detail=where)


@hookimpl
def register_notification_channels(context: PluginContext) -> Sequence[SmtpChannel]:
    if "smtp" not in context.configured():
        return []
    return [SmtpChannel(context.options("smtp", SmtpOptions))]
