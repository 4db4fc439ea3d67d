"""The ``ses``, ``twilio`` and ``webhook`` channels: each passes the channel conformance
suite with its real client code (boto3 for SES, httpx for Twilio and webhooks) against a
local HTTP fake that speaks the provider's wire format, and sorts the provider's refusals
into permanent (never retried) and temporary (retried by the outbox)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from boxoffice.core.notify.channel import Attachment, Message, NotificationChannel
from boxoffice.core.providers import HealthState
from boxoffice.providers.ses import SesChannel, SesOptions
from boxoffice.providers.twilio import TwilioChannel, TwilioOptions
from boxoffice.providers.webhook import SIGNATURE_HEADER, WebhookChannel, WebhookOptions, verify
from boxoffice.testing import NotificationChannelConformance
from boxoffice.testing.fakes import ses, twilio
from boxoffice.testing.fakes.base import FakeServer, Reply
from boxoffice.testing.fakes.ses import FakeSes
from boxoffice.testing.fakes.twilio import FakeTwilio

SECRET = "a-webhook-secret-of-32-characters!!"


def note(to: str, kind: str = "email", **extra: Any) -> Message:
    return Message(message_id="m-1", kind=kind, to=to, subject="Hi", text="Hello", **extra)


# ---- SES


@pytest.fixture
def fake_ses() -> Iterator[FakeSes]:
    with FakeSes() as server:
        assert isinstance(server, FakeSes)
        yield server


def ses_channel(server: FakeSes) -> SesChannel:
    return SesChannel(
        SesOptions(
            from_address="tickets@example.org",
            from_name="Example Tickets",
            region="eu-west-1",
            endpoint_url=server.url,
            access_key_id=ses.ACCESS_KEY_ID,
            secret_access_key=ses.SECRET_ACCESS_KEY,
            max_attempts=1,
        )
    )


class TestSesConformance(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, fake_ses: FakeSes) -> SesChannel:
        self.fake = fake_ses
        return ses_channel(fake_ses)

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        return any(
            email["Subject"] == message.subject
            and str(email.get_content()).replace("\r\n", "\n").strip() == message.text
            for email in self.fake.received(message.to)
        )


async def test_ses_sends_the_whole_mime_message(fake_ses: FakeSes) -> None:
    sent = await ses_channel(fake_ses).send(
        note(
            "ana@example.org",
            template="order-confirmed",
            headers={"List-Unsubscribe": "<https://t.example/u>"},
            attachments=(Attachment("B-1.ics", "text/calendar", b"BEGIN:VCALENDAR\r\n"),),
        )
    )
    assert sent.delivered
    assert sent.provider_reference.endswith("-ses")
    ((request, email),) = fake_ses.sent
    assert request["EmailTags"] == [{"Name": "template", "Value": "order-confirmed"}]
    assert email["From"] == "Example Tickets <tickets@example.org>"
    assert email["List-Unsubscribe"] == "<https://t.example/u>"
    assert [a.get_filename() for a in email.iter_attachments()] == ["B-1.ics"]


async def test_ses_refusals_are_sorted(fake_ses: FakeSes) -> None:
    channel = ses_channel(fake_ses)
    fake_ses.refusals["bounced@example.org"] = "MessageRejected"
    rejected = await channel.send(note("bounced@example.org"))
    assert (rejected.delivered, rejected.permanent_failure) == (False, True)

    fake_ses.sending_enabled = False  # the account is paused: wait, do not drop
    paused = await channel.send(note("ana@example.org"))
    assert (paused.delivered, paused.permanent_failure) == (False, False)
    assert (await channel.health()).state is HealthState.DOWN

    fake_ses.sending_enabled = True
    fake_ses.fail_next(1)  # an outage
    down = await channel.send(note("ana@example.org"))
    assert (down.delivered, down.permanent_failure) == (False, False)
    assert (await channel.send(note("ana@example.org"))).delivered


# ---- Twilio (SMS)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        assert isinstance(server, FakeTwilio)
        yield server


def twilio_channel(server: FakeTwilio, **options: Any) -> TwilioChannel:
    settings: dict[str, Any] = {
        "account_sid": twilio.ACCOUNT_SID,
        "auth_token": twilio.AUTH_TOKEN,
        "from_number": twilio.FROM_NUMBER,
        "api_base": server.url,
        **options,
    }
    return TwilioChannel(TwilioOptions(**settings))


class TestTwilioConformance(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, fake_twilio: FakeTwilio) -> TwilioChannel:
        self.fake = fake_twilio
        return twilio_channel(fake_twilio)

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        # A text message has no subject: its body is the message's text.
        return any(m["body"] == message.text for m in self.fake.received(message.to))


async def test_twilio_refusals_are_sorted(fake_twilio: FakeTwilio) -> None:
    fake_twilio.refusals["+4915100000000"] = 21610  # the recipient replied STOP
    stopped = await twilio_channel(fake_twilio).send(note("+4915100000000", "sms"))
    assert (stopped.delivered, stopped.permanent_failure) == (False, True)
    fake_twilio.fail_next(1)
    down = await twilio_channel(fake_twilio).send(note("+4915112345678", "sms"))
    assert (down.delivered, down.permanent_failure) == (False, False)
    wrong = await twilio_channel(fake_twilio, auth_token="wrong").send(
        note("+4915112345678", "sms")
    )
    assert (wrong.delivered, wrong.permanent_failure) == (False, False), "ops can mend a key"
    assert (await twilio_channel(fake_twilio, auth_token="wrong").health()).state is (
        HealthState.DOWN
    )
    assert (await twilio_channel(fake_twilio).health()).state is HealthState.UP


def test_twilio_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioOptions(account_sid="AC1", auth_token="t")


# ---- signed webhooks (push)


class Receiver(FakeServer):
    """Someone's endpoint that checks the signature with the documented :func:`verify`."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[dict[str, Any]] = []
        self.answer = 202

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if method != "POST":
            return Reply(405, {})
        if not verify(SECRET, body, headers.get(SIGNATURE_HEADER.lower(), "")):
            return Reply(401, {"error": "bad signature"})
        if self.answer >= 300:
            return Reply(self.answer, {})
        self.accepted.append({**json.loads(body), "idempotency": headers["idempotency-key"]})
        return Reply(self.answer, {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        assert isinstance(server, Receiver)
        yield server


def webhook_channel(server: Receiver, secret: str = SECRET) -> WebhookChannel:
    return WebhookChannel(WebhookOptions(url=f"{server.url}/push", secret=secret))


class TestWebhookConformance(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, receiver: Receiver) -> WebhookChannel:
        self.receiver = receiver
        return webhook_channel(receiver)

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        return any(
            (m["to"], m["subject"], m["text"], m["idempotency"])
            == (message.to, message.subject, message.text, message.message_id)
            for m in self.receiver.accepted
        )


async def test_a_webhook_is_signed_and_its_answers_are_sorted(receiver: Receiver) -> None:
    forged = await webhook_channel(receiver, secret="another-secret-of-32-characters!!!").send(
        note("device-1", "push")
    )
    assert (forged.delivered, forged.permanent_failure) == (False, True), "401: refused"
    assert receiver.accepted == []
    receiver.answer = 503
    busy = await webhook_channel(receiver).send(note("device-1", "push"))
    assert (busy.delivered, busy.permanent_failure) == (False, False)
    receiver.answer = 202
    assert (await webhook_channel(receiver).send(note("device-1", "push"))).delivered


def test_the_signature_recipe_refuses_old_and_altered_bodies() -> None:
    from boxoffice.providers.webhook import sign

    body = b'{"id":"m-1"}'
    header = sign(SECRET, body, 1_800_000_000)
    assert verify(SECRET, body, header, now=1_800_000_100)
    assert not verify(SECRET, body + b" ", header, now=1_800_000_100), "altered"
    assert not verify(SECRET, body, header, now=1_800_000_400), "replayed too late"
    assert not verify(SECRET, body, "t=nope,v1=00", now=1_800_000_000)


def test_webhook_options_are_checked() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        WebhookOptions(url="https://x.example", secret="short")
