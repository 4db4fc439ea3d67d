"""Text for fpdf2's core fonts (the PDF tickets and invoices): one encoding, one way.

The core fonts (Helvetica, ...) speak Windows-1252 when told to: Latin-1 with the euro sign
and the typographic apostrophe, quotes, dashes and ellipsis, which the catalogs use.
What it lacks is printed as "?" rather than failing, after babel's thin spaces are made
no-break spaces (French amounts group thousands with U+202F: "1 234,56 €").
"""

from __future__ import annotations

from typing import Any

from fpdf import FPDF, XPos, YPos

CORE_FONTS_ENCODING = "windows-1252"
#: ``multi_cell(..., **NEXT_LINE)``: after a block of text, the next starts on the left below.
NEXT_LINE: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": " "})


def core_fonts_pdf(page_format: str | tuple[float, float]) -> FPDF:
    """An ``FPDF`` (``page_format``: "A4", or (width, height) in millimetres) whose core
    fonts print :data:`CORE_FONTS_ENCODING`."""
    pdf = FPDF(format=page_format)
    pdf.core_fonts_encoding = CORE_FONTS_ENCODING
    return pdf


def unprintable(text: str) -> int:
    """How many characters of ``text`` the core fonts would print as "?"."""
    return sum(1 for char in text.translate(_SPACES) if not _encodes(char))


def _encodes(char: str) -> bool:
    try:
        char.encode(CORE_FONTS_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` as the core fonts can print it."""
    return (
        text.translate(_SPACES).encode(CORE_FONTS_ENCODING, "replace").decode(CORE_FONTS_ENCODING)
    )
