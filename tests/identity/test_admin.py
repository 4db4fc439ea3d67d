"""Platform administration."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, make_admin, organization, sign_in, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_admins_find_suspend_reactivate_and_grant(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        root = await sign_up(client, platform, "root@example.org")
        await make_admin(platform, "root@example.org")
        people = []
        for i in range(5):
            clock.advance(minutes=2)
            people.append(await sign_up(client, platform, f"user{i}@example.org", name=f"User {i}"))
        await client.post(
            "/api/v1/auth/register",
            json={"email": "lurker@example.org", "password": "an unrelated secret"},
        )
        assert (await client.get("/api/v1/admin/users", headers=auth(people[0]))).status_code == 403

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get("/api/v1/admin/users", headers=auth(root), params=params)
            ).json()
            seen += [u["email"] for u in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen[0] == "lurker@example.org"
        assert len(seen) == len(set(seen)) == 7
        found = (
            await client.get("/api/v1/admin/users", headers=auth(root), params={"q": "USER 3"})
        ).json()["items"]
        assert [u["email"] for u in found] == ["user3@example.org"]

        target = found[0]["id"]
        suspended = await client.post(f"/api/v1/admin/users/{target}/suspend", headers=auth(root))
        assert suspended.json()["status"] == "suspended"
        assert (await client.get("/api/v1/me", headers=auth(people[3]))).status_code == 401
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": "user3@example.org", "password": "correct horse battery staple"},
        )
        assert login.status_code == 403
        await client.post(f"/api/v1/admin/users/{target}/reactivate", headers=auth(root))
        await sign_in(client, "user3@example.org")

        granted = await client.put(
            f"/api/v1/admin/users/{target}/platform-role",
            headers=auth(root),
            json={"role": "admin"},
        )
        assert granted.json()["platform_role"] == "admin"
        me = (await client.get("/api/v1/me", headers=auth(root))).json()["id"]
        assert (
            await client.post(f"/api/v1/admin/users/{me}/suspend", headers=auth(root))
        ).status_code == 422
        assert (
            await client.put(
                f"/api/v1/admin/users/{me}/platform-role", headers=auth(root), json={"role": ""}
            )
        ).status_code == 422

        await organization(client, people[0], "busy-org")
        stats = (await client.get("/api/v1/admin/stats", headers=auth(root))).json()
        assert stats["users"] == 7
        assert stats["verified_ratio"] == round(6 / 7, 4)
        assert stats["organizations"] == 1
        assert sum(d["count"] for d in stats["signups_per_day"]) == 7
        assert stats["signups_per_day"][0]["day"] == "2030-01-01"
