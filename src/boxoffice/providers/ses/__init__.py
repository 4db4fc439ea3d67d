"""The ``ses`` notification channel: e-mail through Amazon SES (API v2, ``SendEmail`` with
the raw MIME message, so attachments and headers go as built), with the official ``boto3``
client::

    [providers.ses]
    region = "eu-west-1"
    from_address = "tickets@example.org"      # a verified identity in SES
    from_name = "Example Tickets"
    configuration_set = "boxoffice"           # optional: SES event publishing
    access_key_id = "env:SES_ACCESS_KEY_ID"   # or leave both out: boto3's credential chain
    secret_access_key = "env:SES_SECRET_ACCESS_KEY"

    [[routing.notifications]]
    kind = "email"
    providers = ["ses", "smtp"]               # smtp when SES is down

boto3 is synchronous: its calls run in worker threads behind a per-provider limit (the
bulkhead), under connect and read timeouts, with botocore's ``standard`` retries for
throttling. SES's refusals of the message itself (``MessageRejected``, an unverified sender,
a bad request) are permanent; throttling, a paused account and outages are temporary and the
outbox retries them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.notify.channel import DeliveryResult, Message, undeliverable_reason
from boxoffice.core.notify.mime import email_message
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.providers.aws import boto3_client

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

#: SES error codes that say the message can never be sent as it is.
PERMANENT = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "NotFoundException",
    }
)


class SesOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    from_address: str
    region: str = "us-east-1"
    from_name: str = ""
    configuration_set: str = ""
    #: Empty: AWS's own endpoint for ``region`` (tests point it at a local fake).
    endpoint_url: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    timeout_seconds: float = 10.0
    #: Attempts per call, the first included (botocore retries throttling in between).
    max_attempts: int = 3
    max_concurrency: int = 8


class SesChannel:
    id = "ses"
    kinds = frozenset({"email"})

    def __init__(self, options: SesOptions, client: SESV2Client | None = None) -> None:
        self.options = options
        self.client: SESV2Client = client or boto3_client(
            "sesv2",
            region=options.region,
            endpoint_url=options.endpoint_url,
            access_key_id=options.access_key_id,
            secret_access_key=options.secret_access_key,
            timeout_seconds=options.timeout_seconds,
            attempts=options.max_attempts,
        )
        self._bulkhead = Bulkhead(options.max_concurrency)

    async def send(self, message: Message) -> DeliveryResult:
        from botocore.exceptions import BotoCoreError, ClientError

        problem = undeliverable_reason(message)
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        raw = email_message(
            message, from_address=self.options.from_address, from_name=self.options.from_name
        ).as_bytes()
        request: dict[str, Any] = {
            "FromEmailAddress": self.options.from_address,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": "template", "Value": message.template or "none"}],
        }
        if self.options.configuration_set:
            request["ConfigurationSetName"] = self.options.configuration_set
        try:
            answer = await self._bulkhead.run(lambda: self.client.send_email(**request))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            return DeliveryResult(
                delivered=False,
                permanent_failure=code in PERMANENT,
                detail=f"SES refused it: {code or 'unknown error'}",
            )
        except BotoCoreError as error:
            return DeliveryResult(delivered=False, detail=f"SES: {type(error).__name__}")
        return DeliveryResult(delivered=True, provider_reference=answer["MessageId"])

    async def health(self) -> ProviderHealth:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            account = await self._bulkhead.run(self.client.get_account)
        except (BotoCoreError, ClientError) as error:
            return ProviderHealth(HealthState.DOWN, detail=f"SES: {type(error).__name__}")
        if not account.get("SendingEnabled", False):
            return ProviderHealth(HealthState.DOWN, detail="SES: sending is paused")
        return ProviderHealth(HealthState.UP, detail=f"SES {self.options.region}")


@hookimpl
def register_notification_channels(context: PluginContext) -> Sequence[SesChannel]:
    if "ses" not in context.configured():
        return []
    return [SesChannel(context.options("ses", SesOptions))]
