"""The event lifecycle: which status may follow which."""

from __future__ import annotations

from enum import StrEnum

from boxoffice.core.errors import InvalidTransition


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


ALLOWED: dict[EventStatus, frozenset[EventStatus]] = {
    EventStatus.DRAFT: frozenset({EventStatus.PUBLISHED, EventStatus.CANCELLED}),
    EventStatus.PUBLISHED: frozenset(
        {EventStatus.POSTPONED, EventStatus.CANCELLED, EventStatus.COMPLETED}
    ),
    EventStatus.POSTPONED: frozenset({EventStatus.PUBLISHED, EventStatus.CANCELLED}),
    EventStatus.CANCELLED: frozenset(),
    EventStatus.COMPLETED: frozenset(),
}

#: Statuses the public can see.
#: Events still to be held: what ops must not strand by disabling their region's pack.
ACTIVE = frozenset({EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.POSTPONED})
PUBLIC = frozenset({EventStatus.PUBLISHED, EventStatus.POSTPONED, EventStatus.COMPLETED})


def check_transition(current: str, target: EventStatus) -> None:
    source = EventStatus(current)
    if target not in ALLOWED[source]:
        allowed = ", ".join(sorted(ALLOWED[source])) or "none (final)"
        raise InvalidTransition(
            f"an event that is {source} cannot become {target}; allowed next: {allowed}",
            extra={"from": str(source), "to": str(target)},
        )
