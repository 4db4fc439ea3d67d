"""Ticket output formats: a hook, so that a plugin can add one (a wallet pass, a
print-at-home layout) without touching the core. PDF is bundled (``providers/ticketpdf``)."""

from __future__ import annotations

import io
from typing import Protocol, runtime_checkable

import msgspec
import segno

from boxoffice.core.providers import ProviderHealth
from boxoffice.core.tickets.service import TicketView


class TicketDocument(msgspec.Struct, frozen=True, kw_only=True):
    """What a format draws: the ticket page's facts and the credential its code carries."""

    ticket: TicketView
    credential: str

    def qr_png(self, scale: int = 8) -> bytes:
        """The credential as a QR code (error correction M), PNG."""
        out = io.BytesIO()
        segno.make(self.credential, error="m").save(out, kind="png", scale=scale, border=2)
        return out.getvalue()


@runtime_checkable
class TicketFormat(Protocol):
    #: Also the last segment of the download path: ``/tickets/{credential}/formats/{id}``.
    id: str
    display_name: str
    media_type: str
    #: The file name's extension (``ticket-<id>.<extension>``).
    extension: str

    async def render(self, document: TicketDocument) -> bytes:
        """The ticket as a file. Called per download: draw, do not fetch anything."""
        ...

    async def health(self) -> ProviderHealth: ...
