"""iCalendar (RFC 5545) files for events, built with the icalendar library."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, vText
from icalendar import Event as CalendarEvent

from boxoffice.core.catalog.schemas import EventOut
from boxoffice.core.catalog.service import plain_text

PRODUCT_ID = "-//boxoffice//boxoffice//EN"


def event_calendar(event: EventOut, public_url: str, *, stamp: datetime) -> bytes:
    """One VEVENT with a stable UID (the event id), times in UTC, the venue as LOCATION."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"{event.id}@boxoffice")
    entry.add("dtstamp", stamp)
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.title)
    entry.add("description", plain_text(event.description))
    location = ", ".join(
        p for p in (event.venue_name, event.address, event.city, event.country) if p
    )
    if event.online:
        location = location or "Online"
    if location:
        entry.add("location", vText(location))
    if event.latitude is not None and event.longitude is not None:
        entry.add("geo", (event.latitude, event.longitude))
    entry.add("url", f"{public_url.rstrip('/')}/events/{event.id}")
    entry.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    calendar.add_component(entry)
    return bytes(calendar.to_ical())
