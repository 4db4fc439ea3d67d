"""Organization roles and what each may do. API-key scopes are the same permission names."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"
    CHECKIN = "checkin"


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_MANAGE = "org:manage"  # rename, contact details
    MEMBERS_MANAGE = "members:manage"  # invite, change roles, remove (owners: owner only)
    API_KEYS_MANAGE = "api_keys:manage"
    EVENTS_READ = "events:read"
    EVENTS_WRITE = "events:write"
    ORDERS_READ = "orders:read"  # orders, attendees and their answers
    ORDERS_MANAGE = "orders:manage"  # cancel orders, mark them paid
    CHECKIN = "checkin"
    #: Sales figures, revenue, the funnel and exports of orders and attendees.
    ANALYTICS_READ = "analytics:read"
    #: Outgoing webhooks: where the organization's journal entries are sent.
    WEBHOOKS_MANAGE = "webhooks:manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {Permission.ORG_MANAGE},
    Role.STAFF: frozenset(
        {
            Permission.ORG_READ,
            Permission.EVENTS_READ,
            Permission.EVENTS_WRITE,
            Permission.ORDERS_READ,
            Permission.ORDERS_MANAGE,
            Permission.CHECKIN,
            Permission.ANALYTICS_READ,
        }
    ),
    # Door staff scan tickets and see the lists' counts; orders and attendees' answers are
    # not theirs to read (a scan shows the attendee's name and ticket type, no more).
    Role.CHECKIN: frozenset({Permission.ORG_READ, Permission.EVENTS_READ, Permission.CHECKIN}),
}

#: Scopes an API key may carry: everything but managing people, keys and where the
#: organization's data is sent.
API_KEY_SCOPES = frozenset(Permission) - {
    Permission.ORG_MANAGE,
    Permission.MEMBERS_MANAGE,
    Permission.API_KEYS_MANAGE,
    Permission.WEBHOOKS_MANAGE,
}
