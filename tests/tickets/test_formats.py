"""Ticket files through the ticket-format hook, on both engines: the bundled PDF (read back
with pypdf: the event, its local start, the venue, the attendee, a QR image) and a format a
plugin adds without touching the core."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from boxoffice.core.clock import ManualClock
from boxoffice.core.hookspecs import hookimpl
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.tickets.formats import TicketDocument
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, shop


class PlainTextFormat:
    """A third party's format: the ticket as a few lines of text."""

    id = "txt"
    display_name = "Text"
    media_type = "text/plain"
    extension = "txt"

    async def render(self, document: TicketDocument) -> bytes:
        view = document.ticket
        return f"{view.event_title}\n{view.attendee_name}\n{document.credential}\n".encode()

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


class BrokenFormat(PlainTextFormat):
    id = "broken"
    display_name = "broken format"

    async def render(self, document: TicketDocument) -> bytes:
        raise RuntimeError("a bug in someone's plugin")


class PlainTextPlugin:
    @hookimpl
    def register_ticket_formats(self) -> list[PlainTextFormat]:
        return [PlainTextFormat(), BrokenFormat()]


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(
        [("plaintext", PlainTextPlugin())], config=factories.PLUGINS_TOML, entry_points=True
    )


async def test_a_valid_ticket_downloads_as_pdf_and_as_a_plugins_format(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Free": 0},
        quotas={"Hall": (5, ["Free"])},
        refund_deadline_hours=1,
    )
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Free=1)
        listed = await client.get(
            f"/api/v1/orders/{order['number']}/tickets", params={"secret": order["secret"]}
        )
        (ticket,) = listed.json()
        assert set(ticket["downloads"]) == {"pdf", "txt", "broken"}

        pdf = await client.get(ticket["downloads"]["pdf"])
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert (
            pdf.headers["content-disposition"]
            == f'attachment; filename="ticket-{ticket["id"]}.pdf"'
        )
        assert pdf.content.startswith(b"%PDF-")
        page = PdfReader(io.BytesIO(pdf.content)).pages[0]
        text = page.extract_text()
        view = (await client.get(ticket["page"])).json()
        for expected in ("Jazz night", "Hafenbar", "Hamburg", view["attendee_name"], "Free"):
            assert expected in text, (expected, text)
        hour = view["starts_at_local"][11:16]
        assert hour in text, "the start in the event's own zone"
        assert len(page.images) == 1, "the QR code"

        txt = await client.get(ticket["downloads"]["txt"])
        assert txt.headers["content-type"].startswith("text/plain")
        assert txt.text.splitlines() == ["Jazz night", view["attendee_name"], ticket["credential"]]

        broken = await client.get(ticket["downloads"]["broken"])
        assert broken.status_code == 503, "a plugin's bug is its outage, not a 500"
        assert broken.headers["content-type"].startswith("application/problem+json")
        missing = await client.get(f"{ticket['page']}/formats/wallet")
        assert missing.status_code == 404
        cancelled = await client.post(
            f"/api/v1/orders/{order['number']}/cancel",
            json={"secret": order["secret"], "reason": "ill"},
        )
        assert cancelled.status_code == 200, cancelled.text
        refused = await client.get(ticket["downloads"]["pdf"])
        assert refused.status_code == 409
