"""An invoice's printable text: in the event's language, or in English where the PDF's core
fonts cannot print that language's script (the JSON stays in the event's language)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from boxoffice.core.invoices.pdf import invoice_text
from boxoffice.core.invoices.schemas import EventRef, InvoiceLine, InvoiceOut, Party
from boxoffice.core.money import Money
from boxoffice.core.notify.rendering import Renderer
from boxoffice.core.printing import unprintable
from boxoffice.regions.eu import REVERSE_CHARGE


def invoice(language: str, buyer: str = "Ada") -> InvoiceOut:
    total = Money(11900, "EUR")
    return InvoiceOut(
        number="INV-000007",
        kind="invoice",
        issued_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        language=language,
        order_number="A1B2C3",
        seller=Party(name="Hafen GmbH", tax_id="DE136695976"),
        buyer=Party(name=buyer),
        event=EventRef(
            title="Jazz",
            starts_at_local="2026-12-24T20:00:00+01:00",
            venue="Hafenbar",
            city="Hamburg",
            country="DE",
            timezone="Europe/Berlin",
        ),
        lines=[
            InvoiceLine(description="Standard", quantity=1, amount=total, tax=Money(1900, "EUR"))
        ],
        taxes=[],
        inclusive=True,
        tax=Money(1900, "EUR"),
        total=total,
    )


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("de", "Rechnung INV-000007"),
        ("pt_BR", "Fatura INV-000007"),
        ("ja", "Invoice INV-000007"),  # no Japanese in the core fonts: English
        ("hi", "Invoice INV-000007"),
        ("ru", "Invoice INV-000007"),
    ],
)
def test_the_pdf_text_is_in_a_language_it_can_print(language: str, heading: str) -> None:
    text = invoice_text(Renderer(), invoice(language))
    assert text.startswith(heading), text
    assert unprintable(text) == 0, text


def test_a_name_in_another_script_does_not_turn_a_printable_language_into_english() -> None:
    text = invoice_text(Renderer(), invoice("fr", buyer="山田太郎"))
    assert text.startswith("Facture INV-000007"), "still French: only the name cannot print"
    assert unprintable(text) == 4


@pytest.mark.parametrize(
    ("language", "mention"),
    [
        ("de", "Steuerschuldnerschaft des Leistungsempfängers (Art. 196 der Richtlinie"),
        ("fr", "Autoliquidation : TVA due par le preneur"),
        ("en", "Reverse charge: VAT to be accounted for by the recipient"),
    ],
)
def test_the_reverse_charge_mention_is_in_the_invoices_language(
    language: str, mention: str
) -> None:
    reverse_charged = msgspec.structs.replace(
        invoice(language), reverse_charge=True, mentions=[REVERSE_CHARGE]
    )
    assert mention in invoice_text(Renderer(), reverse_charged)
