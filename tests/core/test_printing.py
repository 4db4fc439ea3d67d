"""What the PDF tickets and invoices print: the euro sign, the catalogs' typography and
babel's thin spaces come out as written (Latin-1 printed them as "?")."""

from __future__ import annotations

import io

from pypdf import PdfReader

from boxoffice.core.printing import core_fonts_pdf, printable


def test_typography_and_money_print_as_written() -> None:
    text = "N° d\u2019identification \u2013 1\u202f234,56\u00a0€ \u201cok\u201d\u2026 日本"
    pdf = core_fonts_pdf("A4")
    pdf.add_page()
    pdf.set_font("helvetica", "", 11)
    pdf.multi_cell(0, 6, printable(text))
    read = PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text()
    assert "N° d\u2019identification \u2013 1" in read
    assert "234,56" in read
    assert "€" in read
    assert "\u201cok\u201d\u2026" in read
    assert "??" in read, "what the fonts lack is a question mark, not a failure"
