"""Recurring events: a weekly Tue/Thu rule across a daylight-saving change, occurrences with
their own capacity, edited one by one. On both engines."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, organization, sign_up

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_weekly_series_keeps_local_time_and_own_capacity(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    clock.set(datetime(2031, 3, 1, tzinfo=BERLIN))
    async with make_client(platform) as client:
        tokens = await sign_up(client, platform, "tour@example.org")
        org_id = (await organization(client, tokens, "tour"))["id"]
        base = f"/api/v1/organizations/{org_id}/events"
        # Tuesday 25 March 2031, 19:00 in Berlin; clocks go forward on Sunday 30 March.
        template = (
            await client.post(
                base,
                headers=auth(tokens),
                json={
                    "slug": "quiz",
                    "title": "Pub quiz",
                    "timezone": "Europe/Berlin",
                    "starts_at": "2031-03-25T19:00:00+01:00",
                    "ends_at": "2031-03-25T21:00:00+01:00",
                    "region": "eu",
                    "currency": "EUR",
                    "description": "Questions",
                    "city": "Berlin",
                },
            )
        ).json()
        ticket = (
            await client.post(
                f"{base}/{template['id']}/ticket-types",
                headers=auth(tokens),
                json={"name": "Team", "price": {"minor": 1000, "currency": "EUR"}},
            )
        ).json()
        await client.post(
            f"{base}/{template['id']}/quotas",
            headers=auth(tokens),
            json={"name": "Tables", "capacity": 12, "ticket_types": [ticket["id"]]},
        )

        bad = await client.post(
            f"{base}/{template['id']}/series",
            headers=auth(tokens),
            json={"frequency": "weekly", "weekdays": ["TU", "TH"]},
        )
        assert bad.status_code == 400
        made = await client.post(
            f"{base}/{template['id']}/series",
            headers=auth(tokens),
            json={"frequency": "weekly", "weekdays": ["TU", "TH"], "until": "2031-04-03"},
        )
        assert made.status_code == 201, made.text
        series = made.json()
        assert series["rule"].startswith("RRULE:FREQ=WEEKLY")
        starts = [e["starts_at_local"] for e in series["events"]]
        assert starts == [
            "2031-03-25T19:00:00+01:00",
            "2031-03-27T19:00:00+01:00",
            "2031-04-01T19:00:00+02:00",
            "2031-04-03T19:00:00+02:00",
        ]
        assert [e["starts_at"] for e in series["events"]][2] == "2031-04-01T17:00:00Z"
        assert len({e["slug"] for e in series["events"]}) == 4
        assert all(e["series_id"] == series["id"] for e in series["events"])

        # Each occurrence has its own quota: changing one changes nothing elsewhere.
        second = series["events"][1]["id"]
        quotas = (await client.get(f"{base}/{second}/quotas", headers=auth(tokens))).json()
        assert [(q["name"], q["capacity"]) for q in quotas] == [("Tables", 12)]
        types = (await client.get(f"{base}/{second}/ticket-types", headers=auth(tokens))).json()
        assert [t["name"] for t in types] == ["Team"]
        await client.put(
            f"{base}/{second}/quotas/{quotas[0]['id']}",
            headers=auth(tokens),
            json={"name": "Tables", "capacity": 20, "ticket_types": [types[0]["id"]]},
        )
        first_quotas = (
            await client.get(f"{base}/{template['id']}/quotas", headers=auth(tokens))
        ).json()
        assert first_quotas[0]["capacity"] == 12
        # Edited and published one by one.
        published = await client.post(
            f"{base}/{second}/status", headers=auth(tokens), json={"status": "published"}
        )
        assert published.status_code == 200
        listed = (
            await client.get(
                f"/api/v1/organizations/{org_id}/series/{series['id']}", headers=auth(tokens)
            )
        ).json()
        assert [e["status"] for e in listed["events"]] == ["draft", "published", "draft", "draft"]
        again = await client.post(
            f"{base}/{template['id']}/series",
            headers=auth(tokens),
            json={"frequency": "daily", "count": 2},
        )
        assert again.status_code == 409
