"""A copy of a person's data built in the background (a large history), kept for a while."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.storage import Base, UTCDateTime, UUIDType


class DataExport(Base):
    """One requested copy: ``pending`` until the ``data-exports`` subscriber builds it,
    then ``ready`` with its JSON until ``expires_at``, then ``expired`` (the JSON gone). The
    download link's secret is derived from the platform key; only its hash is kept."""

    __tablename__ = "data_export"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The copy, as the JSON file the link downloads.
    content: Mapped[str | None] = mapped_column(Text)
