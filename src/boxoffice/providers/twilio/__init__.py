"""The ``twilio`` notification channel: SMS through Twilio's Programmable Messaging REST API
(``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``), spoken with httpx: Twilio's Python
SDK is synchronous and large, and one form POST is all a text message needs::

    [providers.twilio]
    account_sid = "env:TWILIO_ACCOUNT_SID"
    auth_token = "env:TWILIO_AUTH_TOKEN"
    from_number = "+15005550006"            # or messaging_service_sid = "MG..."

    [[routing.notifications]]
    kind = "sms"
    providers = ["twilio"]

Why Twilio rather than Amazon SNS: SNS's SMS needs an origination identity per country
and sandbox exits negotiated per account, while Twilio's API is one endpoint with error codes
that say whether a number can ever be reached. Recipients are E.164 numbers; the text is the
message's plain-text part (Twilio splits long ones into segments).

Twilio answers 400 with its own error code: an invalid or unreachable number (21211,
21614), a recipient who replied STOP (21610) or a number that cannot get SMS (21408, 21612)
is permanent; everything else (429, 5xx, no answer) is temporary and the outbox retries.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.notify.channel import DeliveryResult, Message, undeliverable_reason
from boxoffice.core.providers import HealthState, ProviderHealth

#: Twilio error codes that mean this number will never get this message.
PERMANENT = frozenset({21211, 21408, 21610, 21612, 21614, 21617})


class TwilioOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    account_sid: str
    auth_token: str
    from_number: str = ""
    messaging_service_sid: str = ""
    #: Twilio's API; tests point it at a local fake.
    api_base: str = "https://api.twilio.com"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid")


class TwilioChannel:
    id = "twilio"
    kinds = frozenset({"sms"})

    def __init__(self, options: TwilioOptions) -> None:
        self.options = options

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.options.api_base,
            auth=(self.options.account_sid, self.options.auth_token),
            timeout=self.options.timeout_seconds,
        )

    @property
    def _account(self) -> str:
        return f"/2010-04-01/Accounts/{self.options.account_sid}"

    async def send(self, message: Message) -> DeliveryResult:
        problem = undeliverable_reason(message)
        if problem:
            return DeliveryResult(delivered=False, permanent_failure=True, detail=problem)
        form = {"To": message.to, "Body": message.text.strip()}
        if self.options.messaging_service_sid:
            form["MessagingServiceSid"] = self.options.messaging_service_sid
        else:
            form["From"] = self.options.from_number
        try:
            async with self._client() as http:
                answer = await http.post(f"{self._account}/Messages.json", data=form)
        except httpx.HTTPError as error:
            return DeliveryResult(delivered=False, detail=f"Twilio: {type(error).__name__}")
        body = _json(answer)
        if answer.status_code in (200, 201):
            return DeliveryResult(delivered=True, provider_reference=str(body.get("sid", "")))
        code = body.get("code")
        return DeliveryResult(
            delivered=False,
            permanent_failure=answer.status_code == 400 and code in PERMANENT,
            detail=f"Twilio answered {answer.status_code} (error {code})",
        )

    async def health(self) -> ProviderHealth:
        try:
            async with self._client() as http:
                answer = await http.get(f"{self._account}.json")
        except httpx.HTTPError as error:
            return ProviderHealth(HealthState.DOWN, detail=f"Twilio: {type(error).__name__}")
        status = _json(answer).get("status")
        if answer.status_code != 200 or status != "active":
            return ProviderHealth(
                HealthState.DOWN, detail=f"Twilio account: {answer.status_code} {status}"
            )
        return ProviderHealth(HealthState.UP, detail="Twilio account active")


def _json(answer: httpx.Response) -> dict[str, object]:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@hookimpl
def register_notification_channels(context: PluginContext) -> Sequence[TwilioChannel]:
    if "twilio" not in context.configured():
        return []
    return [TwilioChannel(context.options("twilio", TwilioOptions))]
