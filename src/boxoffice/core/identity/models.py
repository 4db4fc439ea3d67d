from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.db import Base, UTCDateTime, UUIDType
from boxoffice.core.ids import new_id


class Organization(Base):
    """Who sells: every event belongs to one organization."""

    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
