"""The ``smtp`` channel against a real SMTP server (aiosmtpd, in a child process) on a
loopback port: the conformance suite, both parts, attachments and headers as they arrive, a
mailbox that does not exist (permanent), a server that is down or says "try later"
(temporary)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from boxoffice.core.notify.channel import Attachment, Message, NotificationChannel
from boxoffice.core.providers import HealthState
from boxoffice.providers.smtp import SmtpChannel, SmtpOptions
from boxoffice.testing import NotificationChannelConformance
from boxoffice.testing.smtp import SmtpReceiver


def channel_for(port: int) -> SmtpChannel:
    return SmtpChannel(
        SmtpOptions(
            host="127.0.0.1",
            port=port,
            tls="none",
            from_address="tickets@example.org",
            from_name="Example Tickets",
            timeout=5,
        )
    )


def body(mail: EmailMessage, subtype: str) -> str:
    """A part's text as sent (SMTP carries CRLF line ends)."""
    part = mail.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content()).replace("\r\n", "\n")


class TestSmtpConformance(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, boxoffice_smtp: SmtpReceiver) -> SmtpChannel:
        self.smtp = boxoffice_smtp
        return channel_for(boxoffice_smtp.port)

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        return any(
            received["Subject"] == message.subject
            and received.get_content().strip() == message.text
            and received["Message-ID"].startswith(f"<{message.message_id}@")
            for received in self.smtp.received(message.to)
        )


async def test_parts_attachments_and_headers_arrive(boxoffice_smtp: SmtpReceiver) -> None:
    calendar = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    sent = await channel_for(boxoffice_smtp.port).send(
        Message(
            message_id="m-1",
            kind="email",
            to="ana@example.org",
            subject="Ihre Bestellung",
            text="Grüße\n",
            html="<p>Grüße</p>",
            headers={"List-Unsubscribe": "<https://tickets.example/u?t=1>"},
            attachments=(
                Attachment("B-1.ics", "text/calendar; method=PUBLISH", calendar),
                Attachment("B-1-1.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"),
            ),
        )
    )
    assert sent.delivered
    (mail,) = boxoffice_smtp.received("ana@example.org")
    assert mail["From"] == "Example Tickets <tickets@example.org>"
    assert mail["List-Unsubscribe"] == "<https://tickets.example/u?t=1>"
    assert body(mail, "plain") == "Grüße\n"
    assert body(mail, "html").strip() == "<p>Grüße</p>"
    files = {part.get_filename(): part for part in mail.iter_attachments()}
    assert files["B-1.ics"].get_content_type() == "text/calendar"
    assert files["B-1.ics"].get_param("method") == "PUBLISH"
    assert files["B-1.ics"].get_payload(decode=True) == calendar
    assert files["B-1-1.pdf"].get_payload(decode=True) == b"%PDF-1.4\n%%EOF\n"


async def test_a_refused_mailbox_is_for_good_and_a_busy_or_absent_server_is_not(
    boxoffice_smtp: SmtpReceiver,
) -> None:
    boxoffice_smtp.refuse("gone@example.org", "550 5.1.1 No such mailbox")
    boxoffice_smtp.refuse("full@example.org", "452 4.2.2 Mailbox full, try later")
    channel = channel_for(boxoffice_smtp.port)

    def message(to: str) -> Message:
        return Message(message_id=f"m-{to[:4]}", kind="email", to=to, subject="Hi", text="Hi")

    gone = await channel.send(message("gone@example.org"))
    assert (gone.delivered, gone.permanent_failure) == (False, True)
    full = await channel.send(message("full@example.org"))
    assert (full.delivered, full.permanent_failure) == (False, False), "4xx: try again later"
    assert (await channel.health()).state is HealthState.UP
    assert boxoffice_smtp.received() == []

    boxoffice_smtp.stop()  # nobody listens there now
    unreachable = await channel.send(message("someone@example.org"))
    assert (unreachable.delivered, unreachable.permanent_failure) == (False, False)
    assert (await channel.health()).state is HealthState.DOWN
