"""An event as message templates show it (plain data, so a queued message keeps it)."""

from __future__ import annotations

from typing import Any

from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import ensure_utc


def event_facts(event: Event) -> dict[str, Any]:
    """Title, start (ISO 8601, UTC) and zone, venue: ``when(event.starts_at, event.timezone)``
    shows the start in the event's zone."""
    return {
        "title": event.title,
        "starts_at": ensure_utc(event.starts_at).isoformat(),
        "timezone": event.timezone,
        "venue_name": event.venue_name,
        "address": event.address,
        "city": event.city,
        "online": event.online,
    }
