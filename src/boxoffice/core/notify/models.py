from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.fields import LOCALE_LENGTH
from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, UTCDateTime, UUIDType


class OutboundMessage(Base):
    """A rendered message waiting for (or done with) delivery: the notification outbox.

    Queued in the transaction that caused it, delivered by a journal subscriber through the
    channel routing picks, at least once (channels deduplicate by ``id``).
    """

    __tablename__ = "outbound_message"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    #: The body, until delivered or failed for good (it can carry a secret link): then "".
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(LOCALE_LENGTH), default="en")
    region: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(40), default="")
    provider_reference: Mapped[str] = mapped_column(String(300), default="")
    #: Set when a channel reported a permanent failure (bad address).
    failed_reason: Mapped[str] = mapped_column(Text, default="")
