from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from boxoffice.core.identity.schemas import Strict

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000, pattern=r"^[^\s]+$")]
Description = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\r\n]*$")]
EntryTypes = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=100)
]


class EndpointIn(Strict, frozen=True, kw_only=True):
    url: Url
    #: Entry types to send (``GET …/webhooks/entry-types``); empty or absent: all of them.
    entry_types: EntryTypes = []
    description: Description = ""


class EndpointChange(Strict, frozen=True, kw_only=True):
    url: Url | None = None
    entry_types: EntryTypes | None = None
    description: Description | None = None
    #: True turns a disabled endpoint on again (its failure count starts over).
    enabled: bool | None = None


class EndpointOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    url: str
    description: str
    entry_types: list[str]
    status: str
    consecutive_failures: int
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str
    created_at: datetime
    #: Only when the endpoint is created or its secret rotated: keep it, it is not shown
    #: again.
    secret: str | None = None


class AttemptOut(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int
    by: str


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    entry_id: uuid.UUID
    entry_type: str
    position: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut] = []


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[DeliveryOut]
    next_cursor: str | None = None
