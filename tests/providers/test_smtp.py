"""The ``smtp`` channel against a real SMTP server (aiosmtpd) on a loopback port: the
conformance suite, a mailbox that does not exist (permanent), a server that is down or says
"try later" (temporary)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message as MimeMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from boxoffice.core.notify.channel import Message, NotificationChannel
from boxoffice.core.providers import HealthState
from boxoffice.providers.smtp import SmtpChannel, SmtpOptions
from boxoffice.testing import NotificationChannelConformance


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses some recipients."""

    def __init__(self) -> None:
        self.received: list[MimeMessage] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.received.append(email.message_from_bytes(content, policy=default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


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


class TestSmtpConformance(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, mailbox: tuple[Mailbox, int]) -> SmtpChannel:
        self.mailbox = mailbox[0]
        return channel_for(mailbox[1])

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        return any(
            received["To"] == message.to
            and received["Subject"] == message.subject
            and received.get_content().strip() == message.text
            and received["Message-ID"].startswith(f"<{message.message_id}@")
            for received in self.mailbox.received
        )


async def test_a_refused_mailbox_is_for_good_and_a_busy_server_is_not(
    mailbox: tuple[Mailbox, int],
) -> None:
    handler, port = mailbox
    handler.refuse = {
        "gone@example.org": "550 5.1.1 No such mailbox",
        "full@example.org": "452 4.2.2 Mailbox full, try later",
    }
    channel = channel_for(port)

    def message(to: str) -> Message:
        return Message(message_id=f"m-{to[:4]}", kind="email", to=to, subject="Hi", text="Hi")

    gone = await channel.send(message("gone@example.org"))
    assert (gone.delivered, gone.permanent_failure) == (False, True)
    full = await channel.send(message("full@example.org"))
    assert (full.delivered, full.permanent_failure) == (False, False), "4xx: try again later"
    assert (await channel.health()).state is HealthState.UP
    assert handler.received == []

    down = channel_for(free_port())  # nobody listens there
    unreachable = await down.send(message("someone@example.org"))
    assert (unreachable.delivered, unreachable.permanent_failure) == (False, False)
    assert (await down.health()).state is HealthState.DOWN
