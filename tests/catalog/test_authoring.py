"""Authoring the catalog through the API: ticket types, shared quotas, visibility, sales
windows, categories, rich text and what only organizers see, on both engines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from boxoffice.core.catalog.models import Quota
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, make_admin, organization, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def eur(minor: int) -> dict[str, Any]:
    return {"minor": minor, "currency": "EUR"}


async def organizer(
    client: Any, platform: Platform, clock: ManualClock, **event: Any
) -> tuple[dict[str, Any], str, str]:
    tokens = await sign_up(client, platform, "org@example.org")
    org_id = (await organization(client, tokens, "hall"))["id"]
    starts = clock.now() + timedelta(days=30)
    body = {
        "slug": "concert",
        "title": "Concert",
        "timezone": "Europe/Vienna",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "region": "eu",
        "currency": "EUR",
        "description": "<p>Strings &amp; brass</p>",
        "venue_name": "Musikverein",
        "city": "Vienna",
        "country": "AT",
        **event,
    }
    created = await client.post(
        f"/api/v1/organizations/{org_id}/events", headers=auth(tokens), json=body
    )
    assert created.status_code == 201, created.text
    return tokens, org_id, created.json()["id"]


async def test_shared_quotas_and_publication(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        tokens, org_id, event_id = await organizer(client, platform, clock)
        base = f"/api/v1/organizations/{org_id}/events/{event_id}"
        refused = await client.post(
            f"{base}/status", headers=auth(tokens), json={"status": "published"}
        )
        assert refused.status_code == 422
        assert "ticket_types" in [e["field"] for e in refused.json()["errors"]]

        wrong = await client.post(
            f"{base}/ticket-types",
            headers=auth(tokens),
            json={"name": "Adult", "price": {"minor": 100, "currency": "USD"}},
        )
        assert wrong.json()["errors"][0]["field"] == "price.currency"
        made = {}
        for name, price in (("Adult", 4000), ("Child", 1500), ("VIP", 12000)):
            response = await client.post(
                f"{base}/ticket-types",
                headers=auth(tokens),
                json={"name": name, "price": eur(price)},
            )
            assert response.status_code == 201, response.text
            made[name] = response.json()["id"]
        assert (
            await client.post(
                f"{base}/quotas",
                headers=auth(tokens),
                json={"name": "x", "capacity": 1, "ticket_types": [event_id]},
            )
        ).status_code == 400
        hall = (
            await client.post(
                f"{base}/quotas",
                headers=auth(tokens),
                json={
                    "name": "Hall",
                    "capacity": 500,
                    "ticket_types": [made["Adult"], made["Child"], made["VIP"]],
                },
            )
        ).json()
        vip = (
            await client.post(
                f"{base}/quotas",
                headers=auth(tokens),
                json={"name": "VIP boxes", "capacity": 100, "ticket_types": [made["VIP"]]},
            )
        ).json()
        assert hall["available"] == 500

        # The booking engine moves sold/held; here the counts are set directly.
        async with platform.db.transaction() as session:
            await session.execute(
                update(Quota).where(Quota.name == "Hall").values(sold=380, held=50)
            )
            await session.execute(update(Quota).where(Quota.name == "VIP boxes").values(sold=90))
        published = await client.post(
            f"{base}/status", headers=auth(tokens), json={"status": "published"}
        )
        assert published.status_code == 200, published.text
        public = (await client.get(f"/api/v1/events/{event_id}/ticket-types")).json()
        left = {t["name"]: t["available"] for t in public}
        # Adult and Child: 500 - 380 - 50 = 70; VIP: min(70, 100 - 90) = 10.
        assert left == {"Adult": 70, "Child": 70, "VIP": 10}
        assert {t["name"]: t["price"]["minor"] for t in public}["Adult"] == 4000

        lowered = await client.put(
            f"{base}/quotas/{vip['id']}",
            headers=auth(tokens),
            json={"name": "VIP boxes", "capacity": 89, "ticket_types": [made["VIP"]]},
        )
        assert lowered.status_code == 422
        assert lowered.json()["errors"][0] == {"field": "capacity", "message": "at least 90"}
        assert (
            await client.delete(f"{base}/quotas/{hall['id']}", headers=auth(tokens))
        ).status_code == 422
        assert (
            await client.delete(f"{base}/ticket-types/{made['Child']}", headers=auth(tokens))
        ).status_code == 422


async def test_the_database_itself_refuses_an_oversold_quota(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    event = await factories.event(platform.db, clock)
    for values in ({"sold": 101}, {"sold": 60, "held": 41}, {"held": -1}):
        with pytest.raises(IntegrityError):
            async with platform.db.transaction() as session:
                await session.execute(
                    update(Quota).where(Quota.event_id == event.id).values(**values)
                )


async def test_visibility_access_codes_and_sales_windows(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        tokens, org_id, event_id = await organizer(client, platform, clock)
        base = f"/api/v1/organizations/{org_id}/events/{event_id}"
        ids = []
        for body in (
            {"name": "Open", "price": eur(1000)},
            {"name": "Crew", "price": eur(0), "visibility": "code", "access_code": "backstage"},
            {"name": "Presale", "price": eur(800), "visibility": "hidden"},
            {
                "name": "Later",
                "price": eur(1200),
                "sales_start": (clock.now() + timedelta(days=3)).isoformat(),
            },
        ):
            response = await client.post(f"{base}/ticket-types", headers=auth(tokens), json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        no_code = await client.post(
            f"{base}/ticket-types",
            headers=auth(tokens),
            json={"name": "x", "price": eur(1), "visibility": "code"},
        )
        assert no_code.json()["errors"][0]["field"] == "access_code"
        await client.post(
            f"{base}/quotas",
            headers=auth(tokens),
            json={"name": "All", "capacity": 50, "ticket_types": ids},
        )
        await client.post(f"{base}/status", headers=auth(tokens), json={"status": "published"})

        public = (await client.get(f"/api/v1/events/{event_id}/ticket-types")).json()
        assert {t["name"]: t["on_sale"] for t in public} == {"Open": True, "Later": False}
        assert all(t["access_code"] is None for t in public)
        unlocked = (
            await client.get(
                f"/api/v1/events/{event_id}/ticket-types", params={"access_code": " BackStage "}
            )
        ).json()
        assert [t["name"] for t in unlocked] == ["Open", "Crew", "Later"]
        organizer_view = (await client.get(f"{base}/ticket-types", headers=auth(tokens))).json()
        assert {t["name"]: t["access_code"] for t in organizer_view}["Crew"] == "BACKSTAGE"
        assert len(organizer_view) == 4
        clock.advance(days=3)
        later = (await client.get(f"/api/v1/events/{event_id}/ticket-types")).json()
        assert {t["name"]: t["on_sale"] for t in later}["Later"] is True


async def test_categories_rich_text_and_private_fields(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        admin = await sign_up(client, platform, "admin@example.org")
        await make_admin(platform, "admin@example.org")
        forbidden = await client.post(
            "/api/v1/admin/categories",
            headers=auth(await sign_up(client, platform, "nobody@example.org")),
            json={"slug": "music", "names": {"en": "Music"}},
        )
        assert forbidden.status_code == 403
        no_english = await client.post(
            "/api/v1/admin/categories",
            headers=auth(admin),
            json={"slug": "music", "names": {"de": "Musik"}},
        )
        assert no_english.status_code == 400
        created = await client.post(
            "/api/v1/admin/categories",
            headers=auth(admin),
            json={"slug": "music", "names": {"en": "Music", "de": "Musik", "fr": "Musique"}},
        )
        assert created.status_code == 201
        german = (await client.get("/api/v1/categories", params={"locale": "de-AT"})).json()
        assert german[0]["name"] == "Musik"
        assert (await client.get("/api/v1/categories", params={"locale": "ja"})).json()[0][
            "name"
        ] == "Music"

        tokens, org_id, event_id = await organizer(
            client,
            platform,
            clock,
            category="music",
            tags=["Jazz", "jazz", "Late night"],
            online=True,
            online_url="https://stream.example/secret-room",
            description='<p onclick="x()">Hi <script>alert(1)</script>'
            '<a href="javascript:evil()">x</a> <a href="https://ok.example">ok</a></p>',
        )
        base = f"/api/v1/organizations/{org_id}/events/{event_id}"
        private = (await client.get(base, headers=auth(tokens))).json()
        assert private["category"] == "music"
        assert private["tags"] == ["jazz", "late night"]
        assert private["online_url"] == "https://stream.example/secret-room"
        assert "script" not in private["description"]
        assert "onclick" not in private["description"]
        assert "javascript" not in private["description"]
        assert 'href="https://ok.example"' in private["description"]
        ticket = (
            await client.post(
                f"{base}/ticket-types",
                headers=auth(tokens),
                json={"name": "Stream", "price": eur(500)},
            )
        ).json()
        await client.post(
            f"{base}/quotas",
            headers=auth(tokens),
            json={"name": "Seats", "capacity": 1000, "ticket_types": [ticket["id"]]},
        )
        await client.post(f"{base}/status", headers=auth(tokens), json={"status": "published"})
        public = (await client.get(f"/api/v1/events/{event_id}")).json()
        assert public["online_url"] is None
        bad = await client.post(
            f"/api/v1/organizations/{org_id}/events",
            headers=auth(tokens),
            json={
                **{
                    k: private[k]
                    for k in ("title", "timezone", "starts_at", "ends_at", "region", "currency")
                },
                "slug": "other",
                "category": "nope",
            },
        )
        assert bad.json()["errors"] == [{"field": "category", "message": "no category 'nope'"}]

        updated = await client.put(
            base,
            headers=auth(tokens),
            json={
                **{
                    k: private[k]
                    for k in (
                        "slug",
                        "timezone",
                        "starts_at",
                        "ends_at",
                        "region",
                        "currency",
                        "venue_name",
                        "city",
                    )
                },
                "title": "Midnight jazz stream",
                "description": "<b>Now with a choir</b>",
                "online": True,
                "online_url": "https://stream.example/new-room",
            },
        )
        assert updated.status_code == 200, updated.text
        await platform.dispatcher.run_until_idle()
        found = (await client.get("/api/v1/events", params={"q": "choir"})).json()["items"]
        assert [e["title"] for e in found] == ["Midnight jazz stream"]
