"""Organizations: roles, invitations, API keys and isolation between organizations."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import (
    auth,
    invite_and_join,
    link_token,
    organization,
    sign_in,
    sign_up,
)


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_owner_creates_invites_and_roles_are_enforced(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "olga@example.org")
        org = await organization(client, owner, "acme")
        assert org["role"] == "owner"
        org_id = org["id"]
        staff = await invite_and_join(
            client, platform, auth(owner), org_id, "sam@example.org", "staff"
        )
        admin = await invite_and_join(
            client, platform, auth(owner), org_id, "ann@example.org", "admin"
        )
        checkin = await invite_and_join(
            client, platform, auth(owner), org_id, "cat@example.org", "checkin"
        )
        members = (
            await client.get(f"/api/v1/organizations/{org_id}/members", headers=auth(staff))
        ).json()
        assert {m["email"]: m["role"] for m in members} == {
            "olga@example.org": "owner",
            "sam@example.org": "staff",
            "ann@example.org": "admin",
            "cat@example.org": "checkin",
        }
        by_email = {m["email"]: m["user_id"] for m in members}

        # Staff: events yes, people no.
        created = await client.post(
            f"/api/v1/organizations/{org_id}/events",
            headers=auth(staff),
            json=factories.event_body(clock),
        )
        assert created.status_code == 201, created.text
        denied = await client.post(
            f"/api/v1/organizations/{org_id}/invitations",
            headers=auth(staff),
            json={"email": "x@example.org", "role": "staff"},
        )
        assert denied.status_code == 403
        assert denied.json()["required"] == "members:manage"
        assert (
            await client.post(
                f"/api/v1/organizations/{org_id}/api-keys",
                headers=auth(staff),
                json={"name": "k", "scopes": ["events:read"]},
            )
        ).status_code == 403
        # Check-in staff cannot write events.
        assert (
            await client.post(
                f"/api/v1/organizations/{org_id}/events",
                headers=auth(checkin),
                json=factories.event_body(clock, "other"),
            )
        ).status_code == 403

        # Admin manages people but not owners.
        promote = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{by_email['sam@example.org']}",
            headers=auth(admin),
            json={"role": "owner"},
        )
        assert promote.status_code == 403
        demote_owner = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{by_email['olga@example.org']}",
            headers=auth(admin),
            json={"role": "staff"},
        )
        assert demote_owner.status_code == 403
        to_admin = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{by_email['sam@example.org']}",
            headers=auth(admin),
            json={"role": "admin"},
        )
        assert to_admin.json()["role"] == "admin"
        # The last owner stays.
        last = await client.patch(
            f"/api/v1/organizations/{org_id}/members/{by_email['olga@example.org']}",
            headers=auth(owner),
            json={"role": "admin"},
        )
        assert last.status_code == 422
        # Renaming the organization is for owners only.
        for who in (admin, staff):
            refused = await client.patch(
                f"/api/v1/organizations/{org_id}", headers=auth(who), json={"name": "Hijacked"}
            )
            assert refused.status_code == 403, refused.text
        renamed = await client.patch(
            f"/api/v1/organizations/{org_id}",
            headers=auth(owner),
            json={"name": "Acme Events", "contact_email": "Hi@Acme.example"},
        )
        assert (renamed.json()["name"], renamed.json()["contact_email"]) == (
            "Acme Events",
            "hi@acme.example",
        )
        removed = await client.delete(
            f"/api/v1/organizations/{org_id}/members/{by_email['cat@example.org']}",
            headers=auth(admin),
        )
        assert removed.status_code == 204
        assert (
            await client.get(f"/api/v1/organizations/{org_id}", headers=auth(checkin))
        ).status_code == 404


async def test_invitations_go_to_the_invited_address_only_once(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "oz@example.org")
        org_id = (await organization(client, owner, "ozco"))["id"]
        await client.post(
            f"/api/v1/organizations/{org_id}/invitations",
            headers=auth(owner),
            json={"email": "pia@example.org", "role": "staff"},
        )
        token = await link_token(platform, "pia@example.org", "organization-invitation")
        stranger = await sign_up(client, platform, "mallory@example.org")
        stolen = await client.post(
            "/api/v1/organizations/invitations/accept",
            headers=auth(stranger),
            json={"token": token},
        )
        assert stolen.status_code == 403
        pia = await sign_up(client, platform, "pia@example.org")
        assert (
            await client.post(
                "/api/v1/organizations/invitations/accept", headers=auth(pia), json={"token": token}
            )
        ).status_code == 200
        twice = await client.post(
            "/api/v1/organizations/invitations/accept", headers=auth(pia), json={"token": token}
        )
        assert twice.status_code == 422
        listed = (
            await client.get(f"/api/v1/organizations/{org_id}/invitations", headers=auth(owner))
        ).json()
        assert listed[0]["accepted_at"] is not None
        bad_role = await client.post(
            f"/api/v1/organizations/{org_id}/invitations",
            headers=auth(owner),
            json={"email": "q@example.org", "role": "emperor"},
        )
        assert bad_role.status_code == 400
        member_again = await client.post(
            f"/api/v1/organizations/{org_id}/invitations",
            headers=auth(owner),
            json={"email": "pia@example.org", "role": "staff"},
        )
        assert member_again.status_code == 409


async def test_unverified_people_cannot_create_organizations(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        await client.post(
            "/api/v1/auth/register",
            json={"email": "quinn@example.org", "password": "a perfectly long secret"},
        )
        tokens = await sign_in(client, "quinn@example.org", "a perfectly long secret")
        refused = await client.post(
            "/api/v1/organizations", headers=auth(tokens), json={"slug": "q", "name": "Q"}
        )
        assert refused.status_code == 422
        assert "verify" in refused.json()["detail"]


async def test_api_keys_are_shown_once_scoped_and_revocable(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "rue@example.org")
        org_id = (await organization(client, owner, "rueco"))["id"]
        created = await client.post(
            f"/api/v1/organizations/{org_id}/api-keys",
            headers=auth(owner),
            json={"name": "box office sync", "scopes": ["events:read"]},
        )
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith("bxk_")
        listed = await client.get(f"/api/v1/organizations/{org_id}/api-keys", headers=auth(owner))
        assert key not in listed.text
        assert listed.json()[0]["prefix"] == key.split("_")[1]
        read = await client.get(f"/api/v1/organizations/{org_id}/events", headers=auth(key))
        assert read.status_code == 200
        write = await client.post(
            f"/api/v1/organizations/{org_id}/events",
            headers=auth(key),
            json=factories.event_body(clock),
        )
        assert write.status_code == 403
        assert write.json()["required_scope"] == "events:write"
        assert (await client.get("/api/v1/me", headers=auth(key))).status_code == 403
        too_much = await client.post(
            f"/api/v1/organizations/{org_id}/api-keys",
            headers=auth(owner),
            json={"name": "x", "scopes": ["members:manage"]},
        )
        assert too_much.status_code == 400
        key_id = listed.json()[0]["id"]
        assert (
            await client.delete(
                f"/api/v1/organizations/{org_id}/api-keys/{key_id}", headers=auth(owner)
            )
        ).status_code == 204
        revoked = await client.get(f"/api/v1/organizations/{org_id}/events", headers=auth(key))
        assert revoked.status_code == 401
        tampered = key[:-2] + ("00" if not key.endswith("00") else "11")
        assert (
            await client.get(f"/api/v1/organizations/{org_id}/events", headers=auth(tampered))
        ).status_code == 401


async def test_organizer_a_sees_nothing_of_organization_b(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """Every organizer route, called by A's owner (and A's API key) with B's ids: 404."""
    async with make_client(platform) as client:
        a = await sign_up(client, platform, "alice@a.example")
        b = await sign_up(client, platform, "bob@b.example")
        org_a = (await organization(client, a, "org-a"))["id"]
        org_b = (await organization(client, b, "org-b"))["id"]
        key_a = (
            await client.post(
                f"/api/v1/organizations/{org_a}/api-keys",
                headers=auth(a),
                json={"name": "k", "scopes": ["events:read", "events:write", "org:read"]},
            )
        ).json()["key"]
        event_b = (
            await client.post(
                f"/api/v1/organizations/{org_b}/events",
                headers=auth(b),
                json=factories.event_body(clock),
            )
        ).json()["id"]
        invitation_b = (
            await client.post(
                f"/api/v1/organizations/{org_b}/invitations",
                headers=auth(b),
                json={"email": "c@b.example", "role": "staff"},
            )
        ).json()["id"]
        key_b = (
            await client.post(
                f"/api/v1/organizations/{org_b}/api-keys",
                headers=auth(b),
                json={"name": "k", "scopes": ["org:read"]},
            )
        ).json()
        key_b_id = key_b["api_key"]["id"]
        bob_id = (await client.get("/api/v1/me", headers=auth(b))).json()["id"]
        event_a = (
            await client.post(
                f"/api/v1/organizations/{org_a}/events",
                headers=auth(a),
                json=factories.event_body(clock, "a-event"),
            )
        ).json()["id"]

        base = f"/api/v1/organizations/{org_b}"
        routes: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", base, None),
            ("PATCH", base, {"name": "Taken over"}),
            ("GET", f"{base}/members", None),
            ("PATCH", f"{base}/members/{bob_id}", {"role": "staff"}),
            ("DELETE", f"{base}/members/{bob_id}", None),
            ("POST", f"{base}/invitations", {"email": "z@a.example", "role": "staff"}),
            ("GET", f"{base}/invitations", None),
            ("DELETE", f"{base}/invitations/{invitation_b}", None),
            ("POST", f"{base}/api-keys", {"name": "steal", "scopes": ["org:read"]}),
            ("GET", f"{base}/api-keys", None),
            ("DELETE", f"{base}/api-keys/{key_b_id}", None),
            ("POST", f"{base}/events", factories.event_body(clock, "intruder")),
            ("GET", f"{base}/events", None),
            ("GET", f"{base}/events/{event_b}", None),
            ("POST", f"{base}/events/{event_b}/status", {"status": "published"}),
            ("PUT", f"{base}/events/{event_b}", factories.event_body(clock, "renamed")),
            ("POST", f"{base}/events/{event_b}/series", {"frequency": "daily", "count": 2}),
            ("GET", f"{base}/series/{event_b}", None),
            ("GET", f"{base}/events/{event_b}/ticket-types", None),
            (
                "POST",
                f"{base}/events/{event_b}/ticket-types",
                {"name": "x", "price": {"minor": 1, "currency": "EUR"}},
            ),
            ("GET", f"{base}/events/{event_b}/quotas", None),
            ("DELETE", f"{base}/events/{event_b}/images/{event_b}", None),
            # B's event through A's organization: the ids must belong together.
            ("GET", f"/api/v1/organizations/{org_a}/events/{event_b}", None),
            (
                "POST",
                f"/api/v1/organizations/{org_a}/events/{event_b}/status",
                {"status": "cancelled"},
            ),
        ]
        for credential in (auth(a), auth(key_a)):
            for method, path, body in routes:
                response = await client.request(method, path, headers=credential, json=body)
                assert response.status_code == 404, (method, path, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
        # Nothing of B changed.
        bob_view = (await client.get(f"{base}/events/{event_b}", headers=auth(b))).json()
        assert bob_view["status"] == "draft"
        assert len((await client.get(f"{base}/members", headers=auth(b))).json()) == 1
        assert (
            await client.get(f"/api/v1/organizations/{org_a}/events/{event_a}", headers=auth(a))
        ).status_code == 200


async def test_organizers_author_and_publish_events(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "vic@example.org")
        org_id = (await organization(client, owner, "vicco"))["id"]
        created = (
            await client.post(
                f"/api/v1/organizations/{org_id}/events",
                headers=auth(owner),
                json=factories.event_body(clock),
            )
        ).json()
        assert created["status"] == "draft"
        assert created["starts_at_local"].endswith("+01:00")  # Paris in January
        assert created["starts_at"].endswith("Z")  # stored and returned in UTC
        incomplete = await client.post(
            f"/api/v1/organizations/{org_id}/events", headers=auth(owner), json={"title": "No slug"}
        )
        assert incomplete.status_code == 400
        assert {"field": "body.slug", "message": "Object missing required field `slug`"} in (
            incomplete.json()["errors"]
        )
        public = await client.get(f"/api/v1/events/{created['id']}")
        assert public.status_code == 404  # drafts are not public
        bad = await client.post(
            f"/api/v1/organizations/{org_id}/events/{created['id']}/status",
            headers=auth(owner),
            json={"status": "finished"},
        )
        assert bad.status_code == 400
        invalid = await client.post(
            f"/api/v1/organizations/{org_id}/events/{created['id']}/status",
            headers=auth(owner),
            json={"status": "completed"},
        )
        assert invalid.status_code == 409
        base = f"/api/v1/organizations/{org_id}/events/{created['id']}"
        ticket = await client.post(
            f"{base}/ticket-types",
            headers=auth(owner),
            json={"name": "Dinner", "price": {"minor": 12000, "currency": "EUR"}},
        )
        await client.post(
            f"{base}/quotas",
            headers=auth(owner),
            json={"name": "Tables", "capacity": 80, "ticket_types": [ticket.json()["id"]]},
        )
        published = await client.post(
            f"/api/v1/organizations/{org_id}/events/{created['id']}/status",
            headers=auth(owner),
            json={"status": "published"},
        )
        assert published.json()["status"] == "published"
        assert (await client.get(f"/api/v1/events/{created['id']}")).status_code == 200
        listed = (
            await client.get(f"/api/v1/organizations/{org_id}/events", headers=auth(owner))
        ).json()
        assert [e["id"] for e in listed] == [created["id"]]
