"""Every column limit is checked at the edge: a value a column cannot hold is a 400 naming
the field on both engines alike, and a real value that long enough to have failed before
now fits (a 29-character language tag failed on PostgreSQL and passed on SQLite)."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, sign_up

LONG_REAL_TAG = "de-DE-u-co-phonebk-ka-shifted"  # 29 characters, a valid BCP 47 tag


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def field_of(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [e["field"] for e in response.json()["errors"]]


async def test_locales_and_time_zones_are_bounded_at_the_edge(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        body = {"email": "tagged@example.org", "password": "a perfectly long secret"}
        accepted = await client.post(
            "/api/v1/auth/register", json={**body, "locale": LONG_REAL_TAG}
        )
        assert accepted.status_code == 202, accepted.text
        too_long = await client.post(
            "/api/v1/auth/register",
            json={**body, "email": "other@example.org", "locale": "de-" + "abcdefgh-" * 4},
        )
        assert field_of(too_long) == ["body.locale"]
        zone = await client.post(
            "/api/v1/auth/register",
            json={**body, "email": "zone@example.org", "time_zone": "Europe/" + "x" * 300},
        )
        assert field_of(zone) == ["body.time_zone"]
        tokens = await sign_up(client, platform, "me@example.org")
        patched = await client.patch(
            "/api/v1/me", headers=auth(tokens), json={"time_zone": "A" * 300}
        )
        assert field_of(patched) == ["body.time_zone"]
        me = await client.patch("/api/v1/me", headers=auth(tokens), json={"locale": LONG_REAL_TAG})
        assert me.status_code == 200, me.text
        assert me.json()["locale"] == LONG_REAL_TAG
