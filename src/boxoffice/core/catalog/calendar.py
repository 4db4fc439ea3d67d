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
    return _calendar(
        event,
        stamp=stamp,
        uid=f"{event.id}@boxoffice",
        summary=event.title,
        description=plain_text(event.description),
        url=f"{public_url.rstrip('/')}/events/{event.id}",
    )


def order_calendar(
    event: EventOut, *, stamp: datetime, number: str, tickets: int, link: str
) -> bytes:
    """The event as a buyer's order has it: its own UID (so it sits beside the public
    event's), the order number and tickets in the description, the order link as URL. For
    an online event the description carries the access link, which ticket holders get."""
    lines = [f"Order {number}: {tickets} ticket(s).", link]
    if event.online and event.online_url:
        lines.append(f"Join online: {event.online_url}")
    lines.append(plain_text(event.description))
    return _calendar(
        event,
        stamp=stamp,
        uid=f"{event.id}-{number}@boxoffice",
        summary=f"{event.title} (order {number})",
        description="\n\n".join(lines),
        url=link,
    )


def _calendar(
    event: EventOut,
    *,
    stamp: datetime,
    uid: str,
    summary: str,
    description: str,
    url: str,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", uid)
    entry.add("dtstamp", stamp)
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", summary)
    entry.add("description", description)
    location = ", ".join(
        p for p in (event.venue_name, event.address, event.city, event.country) if p
    )
    if event.online:
        location = location or "Online"
    if location:
        entry.add("location", vText(location))
    if event.latitude is not None and event.longitude is not None:
        entry.add("geo", (event.latitude, event.longitude))
    entry.add("url", url)
    entry.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    calendar.add_component(entry)
    return bytes(calendar.to_ical())
