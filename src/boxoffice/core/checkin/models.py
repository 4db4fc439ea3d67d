from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, JSONType, UTCDateTime, UUIDType


class CheckinList(Base):
    """A door's list: every ticket of the event, or some ticket types (a VIP entrance)."""

    __tablename__ = "checkin_list"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    #: The ticket types let in here (ids as strings); empty: all of the event's.
    ticket_type_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Scans before this are "not yet valid" (doors open); None: any time.
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Whether a ticket scanned out (an exit scan) may come in again.
    reentry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkin(Base):
    """A ticket let in through a list: one row per (list, ticket), so a second scan — from
    another scanner, another process, at the same instant — finds it and is refused.
    ``scanned_at`` and ``gate`` are those of the latest entry."""

    __tablename__ = "checkin"

    list_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("checkin_list.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("order_item.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Where: the scanner's gate or device name.
    gate: Mapped[str] = mapped_column(String(120), default="")
    #: Inside now (an exit scan clears it; on a list with re-entry an entry sets it again).
    inside: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    #: How many times it came in.
    entries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType)
