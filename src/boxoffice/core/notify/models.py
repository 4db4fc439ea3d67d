from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.fields import LOCALE_LENGTH
from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, JSONType, UTCDateTime, UUIDType


class MessageStatus:
    QUEUED = "queued"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed for now; ``next_attempt_at`` says when again
    SENT = "sent"
    FAILED = "failed"  # for good: a refused address, or every retry spent
    SKIPPED = "skipped"  # marketing to someone who unsubscribed after it was queued
    ALL = (QUEUED, RETRYING, SENT, FAILED, SKIPPED)
    #: Not done with: still to be sent.
    OPEN = (QUEUED, RETRYING)


class Purpose:
    #: What the recipient did or must know (orders, accounts, changes to their event):
    #: always sent.
    TRANSACTIONAL = "transactional"
    #: News and offers: only with consent, never after an unsubscribe.
    MARKETING = "marketing"


class OutboundMessage(Base):
    """A message waiting for (or done with) delivery: the notification outbox and its
    delivery log.

    Queued in the transaction that caused it with its template and the template's data
    (``context``), rendered in ``locale`` when it is delivered, through the channels routing
    picks, at least once (channels deduplicate by ``id``). The data can carry a secret link,
    so it is forgotten once the message is sent or can never be.
    """

    __tablename__ = "outbound_message"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(60))
    #: The template's data; ``None`` once the message is done with.
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    purpose: Mapped[str] = mapped_column(String(20), default=Purpose.TRANSACTIONAL)
    #: The subject as rendered at the last attempt (for the delivery log).
    subject: Mapped[str] = mapped_column(String(300), default="")
    locale: Mapped[str] = mapped_column(String(LOCALE_LENGTH), default="en")
    region: Mapped[str] = mapped_column(String(20), default="")
    #: What the message is part of ("broadcast:<id>", "reminder:<event id>"), for counts.
    topic: Mapped[str | None] = mapped_column(String(80), index=True)
    #: Queued at most once per key (a fan-out that is retried queues nothing twice).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(40), default="")
    provider_reference: Mapped[str] = mapped_column(String(300), default="")
    #: Why it failed for good (a refused address, retries spent, an unsubscribe).
    failed_reason: Mapped[str] = mapped_column(Text, default="")


class NotificationPreference(Base):
    """What an e-mail address said about marketing: consent given or withdrawn (the
    one-click unsubscribe), with when and how. An address with no row falls back to its
    account's ``marketing_consent``; transactional messages do not ask."""

    __tablename__ = "notification_preference"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    marketing: Mapped[bool] = mapped_column(Boolean)
    #: How it was said: "unsubscribe-link", "account", "checkout".
    source: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentRecord(Base):
    """One thing a person said about a purpose (marketing): consent given or withdrawn, with
    when, the version of the wording they were shown, and where (sign-up, account,
    unsubscribe link). Never changed; the latest row per address and purpose is in force
    (``NotificationPreference`` keeps it at hand for sending)."""

    __tablename__ = "consent_record"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    address: Mapped[str] = mapped_column(String(320), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    granted: Mapped[bool] = mapped_column(Boolean)
    #: The version of the consent wording shown ("marketing-2026-11"): what was agreed to.
    text_version: Mapped[str] = mapped_column(String(40))
    #: Where it was said: "sign-up", "account", "unsubscribe-link".
    source: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Broadcast(Base):
    """An organizer's message to the buyers of an event. Queued per recipient by a journal
    subscriber (``topic`` ``broadcast:<id>`` on each message, for its delivery counts)."""

    __tablename__ = "broadcast"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUIDType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: How many messages were queued (set when the fan-out is done).
    recipients: Mapped[int | None] = mapped_column(Integer)
