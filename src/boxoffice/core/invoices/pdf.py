"""An invoice or credit note as a PDF: its text, written in the event's language by the
notification engine's catalogs (``templates/_invoice.txt``), on an A4 page drawn with fpdf2.
The text is the document; the PDF is its printable form."""

from __future__ import annotations

import asyncio

import msgspec

from boxoffice.core.invoices.schemas import InvoiceOut
from boxoffice.core.notify.rendering import DEFAULT_LOCALE, Renderer
from boxoffice.core.printing import NEXT_LINE, core_fonts_pdf, printable, unprintable


def invoice_text(renderer: Renderer, invoice: InvoiceOut) -> str:
    """The document's text in the event's language, or in English where that language's
    script is one the PDF's core fonts cannot print (Japanese, Hindi: the JSON invoice stays
    in the event's language; a Unicode font for the PDF is still to come)."""
    context = {**msgspec.to_builtins(invoice), "zone": invoice.event.timezone}
    context["issued_at"] = invoice.issued_at
    text = renderer.document("invoice", invoice.language, context)
    if invoice.language != DEFAULT_LOCALE and unprintable(text):
        english = renderer.document("invoice", DEFAULT_LOCALE, context)
        if unprintable(english) < unprintable(text):
            return english
    return text


def _draw(title: str, text: str) -> bytes:
    pdf = core_fonts_pdf("A4")
    pdf.set_title(title)
    pdf.set_creator("boxoffice")
    pdf.add_page()
    heading, _, body = text.partition("\n")
    pdf.set_font("helvetica", "B", 16)
    pdf.multi_cell(0, 9, printable(heading), **NEXT_LINE)
    pdf.ln(3)
    pdf.set_font("helvetica", "", 11)
    for line in body.split("\n"):
        pdf.multi_cell(0, 6, printable(line), **NEXT_LINE)
    return bytes(pdf.output())


async def invoice_pdf(renderer: Renderer, invoice: InvoiceOut) -> bytes:
    return await asyncio.to_thread(_draw, invoice.number, invoice_text(renderer, invoice))
