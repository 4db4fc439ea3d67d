"""The notification channel conformance suite."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from boxoffice.core.notify.channel import DeliveryResult, Message, NotificationChannel
from boxoffice.testing.conformance.base import ConformanceSuite, check_health, check_id

#: Where a message of each kind can go, and where it never can.
RECIPIENTS = {"email": "buyer@example.org", "sms": "+4915112345678"}
UNDELIVERABLE = {"email": "not an address", "sms": "call me"}


class NotificationChannelConformance(ConformanceSuite):
    """Every notification channel passes these. Provide a ``channel`` fixture and override
    :meth:`delivered` to look at what really arrived (the SMTP test reads its receiving
    server's mailbox; a provider's fake reads what its API was sent). Override
    :meth:`recipient` and :meth:`undeliverable` for kinds other than e-mail and SMS.

    It checks: the channel declares what it delivers; a message of each kind arrives whole
    (subject and text, non-ASCII included); an address that can never work is a permanent
    failure in the result, not an exception (the outbox retries only temporary ones).
    """

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        """Whether ``message`` (its recipient, subject and text) really arrived."""
        raise NotImplementedError(
            "override delivered() in the conformance subclass to look at what your channel "
            "really delivered: the suite cannot take the channel's word for it"
        )

    def recipient(self, kind: str) -> str:
        return RECIPIENTS.get(kind, f"recipient-of-{kind}")

    def undeliverable(self, kind: str) -> str:
        return UNDELIVERABLE.get(kind, "")

    def message(self, kind: str, to: str) -> Message:
        return Message(
            message_id=f"msg-{uuid.uuid4().hex[:12]}",
            kind=kind,
            to=to,
            subject="Your tickets for Ünïcödé Night",
            text="See you there! Ünïcödé ✓ — doors at 19:30.",
            template="conformance",
        )

    def test_declares_what_it_is(self, channel: NotificationChannel) -> None:
        assert isinstance(channel, NotificationChannel), "does not satisfy the protocol"
        check_id(channel.id)
        assert channel.kinds, "a channel delivers at least one kind of message"
        assert all(isinstance(k, str) and k == k.lower() for k in channel.kinds)

    async def test_health(self, channel: NotificationChannel) -> None:
        await check_health(channel)

    async def test_every_kind_arrives_whole(self, channel: NotificationChannel) -> None:
        for kind in sorted(channel.kinds):
            message = self.message(kind, self.recipient(kind))
            result = await channel.send(message)
            assert isinstance(result, DeliveryResult)
            assert result.delivered, result.detail
            assert await self.delivered(channel, message), f"the {kind} message did not arrive"

    async def test_an_unsent_message_has_not_arrived(self, channel: NotificationChannel) -> None:
        kind = sorted(channel.kinds)[0]
        assert not await self.delivered(channel, self.message(kind, self.recipient(kind))), (
            "delivered() says yes to a message that was never sent"
        )

    async def test_bad_addresses_fail_for_good(self, channel: NotificationChannel) -> None:
        for kind in sorted(channel.kinds):
            address = self.undeliverable(kind)
            if not address:
                continue
            result = await channel.send(self.message(kind, address))
            assert not result.delivered, f"delivered a {kind} message to {address!r}"
            assert result.permanent_failure, "a bad address is a permanent failure, not retried"

    @pytest.mark.parametrize("field", ["to", "subject"])
    async def test_header_injection_is_refused(
        self, channel: NotificationChannel, field: str
    ) -> None:
        kind = sorted(channel.kinds)[0]
        message = self.message(kind, self.recipient(kind))
        forged = msgspec.structs.replace(
            message, **{field: getattr(message, field) + "\r\nBcc: victim@example.org"}
        )
        result = await channel.send(forged)
        assert not result.delivered, f"a line break in {field} must not reach the provider"
        assert result.permanent_failure, "and it is not worth retrying"
