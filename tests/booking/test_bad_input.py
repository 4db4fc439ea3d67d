"""Bad input to the booking endpoints gets a 4xx problem+json and changes nothing: no 500
for any of these, on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, counts, shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


HOLD_BODIES: list[Any] = [
    None,
    [],
    "",
    {"items": None},
    {"items": [{}]},
    {"items": [{"ticket_type_id": 5}]},
    {"items": [{"ticket_type_id": str(uuid.uuid4()), "quantity": 1}]},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 0}]},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1.5}]},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1}] * 21},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1}], "promo_code": "x" * 61},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1}], "promo_code": "'; DROP TABLE hold"},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1}], "extra": True},
    {"items": [{"ticket_type_id": "TYPE", "quantity": 1}], "promo_code": "A\x00B"},
]

ORDER_BODIES: list[Any] = [
    {},
    {"secret": "SECRET"},
    {"secret": "SECRET", "buyer": {"name": "", "email": "a@b.co"}},
    {"secret": "SECRET", "buyer": {"name": "A", "email": "nope"}},
    {"secret": "SECRET", "buyer": {"name": "A", "email": "a@example.org", "country": "de"}},
    {
        "secret": "SECRET",
        "buyer": {"name": "A", "email": "a@example.org"},
        "attendees": [{"name": "A", "answers": {"not-a-uuid": "x"}}],
    },
    {
        "secret": "SECRET",
        "buyer": {"name": "A", "email": "a@example.org"},
        "attendees": [{"name": "A", "answers": {str(uuid.uuid4()): ["list"]}}],
    },
    {
        "secret": "SECRET",
        "buyer": {"name": "A", "email": "a@example.org"},
        "attendees": [{"name": "A", "email": "bad"}],
    },
    {"secret": "x" * 61, "buyer": {"name": "A", "email": "a@example.org"}},
    {"secret": "SECRET", "buyer": {"name": "A\x00", "email": "a@example.org"}},
]


def _fill(body: Any, values: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, values) for v in body]
    return values.get(body, body) if isinstance(body, str) else body


async def test_no_input_makes_a_500_or_changes_anything(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    values = {"TYPE": str(store.types["Standard"])}
    async with make_client(platform) as client:
        hold = (await Buyer(client, store).hold(Standard=1)).json()
        values["SECRET"] = hold["secret"]
        base = f"/api/v1/events/{store.event.id}"
        attempts = [("POST", f"{base}/holds", _fill(b, values)) for b in HOLD_BODIES]
        attempts += [
            ("POST", f"/api/v1/holds/{hold['id']}/order", _fill(b, values)) for b in ORDER_BODIES
        ]
        attempts += [
            ("POST", "/api/v1/holds/not-a-uuid/order", {}),
            ("POST", f"/api/v1/holds/{uuid.uuid4()}/release", {"secret": "x"}),
            ("GET", f"/api/v1/holds/{hold['id']}?secret=" + "x" * 100, None),
            ("GET", "/api/v1/orders/%00%FF?secret=x", None),
            ("GET", f"/api/v1/orders/{'A' * 500}?secret=x", None),
            ("POST", "/api/v1/orders/NOPE/cancel", {"secret": None}),
            (
                "POST",
                f"{base}/waitlist",
                {"ticket_type_id": values["TYPE"], "quantity": 1, "name": "A", "email": "bad"},
            ),
            (
                "POST",
                f"{base}/waitlist",
                {
                    "ticket_type_id": values["TYPE"],
                    "quantity": 999,
                    "name": "A",
                    "email": "a@example.org",
                },
            ),
            ("GET", f"/api/v1/waitlist/{uuid.uuid4()}", None),
            (
                "POST",
                f"/api/v1/events/{uuid.uuid4()}/holds",
                {"items": [{"ticket_type_id": values["TYPE"], "quantity": 1}]},
            ),
        ]
        for method, url, body in attempts:
            response = await client.request(
                method, url, json=body, headers={"idempotency-key": b"k-\xe9"}
            )
            assert 400 <= response.status_code < 500, (url, body, response.text)
            assert response.headers["content-type"] == "application/problem+json", url
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 1), "nothing changed"
    await assert_books_balance(platform.db)
