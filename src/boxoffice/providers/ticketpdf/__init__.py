"""The ``pdf`` ticket format: one A6 page per ticket (event, start in the event's own zone,
venue and address, ticket type, attendee, the QR code), drawn with fpdf2. Needs no
configuration; ``[plugins] disabled = ["ticketpdf"]`` removes it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import datetime

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.printing import NEXT_LINE, core_fonts_pdf, printable
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.tickets.formats import TicketDocument


def _when(local: str) -> str:
    """``2030-05-01T19:30:00+02:00`` as "1 May 2030, 19:30 (UTC+02:00)"."""
    moment = datetime.fromisoformat(local)
    offset = local[19:] or "+00:00"
    return f"{moment.day} {moment:%B %Y, %H:%M} (UTC{offset})"


class PdfTicketFormat:
    id = "pdf"
    display_name = "PDF ticket"
    media_type = "application/pdf"
    extension = "pdf"

    async def render(self, document: TicketDocument) -> bytes:
        return await asyncio.to_thread(self._draw, document)

    def _draw(self, document: TicketDocument) -> bytes:
        ticket = document.ticket
        pdf = core_fonts_pdf((105, 148))  # A6, in millimetres
        pdf.set_title(printable(f"{ticket.event_title}: ticket"))
        pdf.set_creator("boxoffice")
        pdf.set_auto_page_break(auto=False)
        pdf.add_page()
        pdf.set_font("helvetica", "B", 14)
        pdf.multi_cell(0, 7, printable(ticket.event_title), **NEXT_LINE)
        pdf.set_font("helvetica", "", 10)
        pdf.multi_cell(0, 5, printable(_when(ticket.starts_at_local)), **NEXT_LINE)
        place = ", ".join(p for p in (ticket.venue_name, ticket.address, ticket.city) if p)
        pdf.multi_cell(0, 5, printable(place or ("Online" if ticket.online else "")), **NEXT_LINE)
        pdf.ln(2)
        pdf.set_font("helvetica", "B", 11)
        pdf.multi_cell(0, 6, printable(ticket.attendee_name), **NEXT_LINE)
        pdf.set_font("helvetica", "", 10)
        pdf.multi_cell(0, 5, printable(ticket.ticket_type), **NEXT_LINE)
        pdf.image(io.BytesIO(document.qr_png()), x=22, y=pdf.get_y() + 3, w=60, h=60)
        pdf.set_y(-12)
        pdf.set_font("helvetica", "", 7)
        pdf.cell(0, 4, printable(f"Ticket {ticket.ticket_id}"), align="C")
        return bytes(pdf.output())

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


@hookimpl
def register_ticket_formats(context: PluginContext) -> Sequence[PdfTicketFormat]:
    return [PdfTicketFormat()]
