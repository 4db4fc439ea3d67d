"""Accounts and sessions through the HTTP API, on both engines."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from boxoffice.api.app import create_app
from boxoffice.core.clock import ManualClock
from boxoffice.logs import configure_logging
from boxoffice.platform import Platform
from boxoffice.testing.plugin import app_client
from tests import factories
from tests.identity.helpers import (
    PASSWORD,
    auth,
    client_addresses,
    link_token,
    mail_to,
    sign_in,
    sign_up,
)


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def test_register_verify_login_refresh_rotate_reuse_revoked(
    platform: Platform, make_client: Any, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    async with make_client(platform) as client:
        registered = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "Ada@Example.org",
                "password": PASSWORD,
                "name": "Ada",
                "marketing_consent": True,
            },
        )
        assert registered.status_code == 202
        unverified = await sign_in(client, "ada@example.org")
        me = (await client.get("/api/v1/me", headers=auth(unverified))).json()
        assert (me["email"], me["email_verified"], me["marketing_consent"]) == (
            "ada@example.org",
            False,
            True,
        )
        assert me["marketing_consent_at"] is not None

        token = await link_token(platform, "ada@example.org", "verify-email")
        verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert verified.json()["email_verified"] is True
        again = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert_problem(again, 422, "rule-violated")

        first = await sign_in(client, "ada@example.org")
        assert first["token_type"] == "Bearer"
        assert first["expires_in"] == 15 * 60
        second = (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
        ).json()
        assert second["refresh_token"] != first["refresh_token"]
        assert (await client.get("/api/v1/me", headers=auth(second))).status_code == 200
        third = (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
            )
        ).json()

        # The rotated `first` token comes back: someone copied it. The whole session ends.
        reused = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert "used before" in assert_problem(reused, 401, "unauthorized")["detail"]
        assert reused.headers["www-authenticate"].startswith("Bearer")
        for tokens in (third, second):
            assert_problem(
                await client.get("/api/v1/me", headers=auth(tokens)), 401, "unauthorized"
            )
        assert_problem(
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}
            ),
            401,
            "unauthorized",
        )
        # Other sessions (the unverified one above) are unaffected.
        assert (await client.get("/api/v1/me", headers=auth(unverified))).status_code == 200

        # Logout ends a session at once, access token included.
        fresh = await sign_in(client, "ada@example.org")
        assert (await client.post("/api/v1/auth/logout", headers=auth(fresh))).status_code == 204
        assert_problem(await client.get("/api/v1/me", headers=auth(fresh)), 401, "unauthorized")

        # Access tokens expire with the clock.
        later = await sign_in(client, "ada@example.org")
        clock.advance(minutes=16)
        expired = await client.get("/api/v1/me", headers=auth(later))
        assert "expired" in assert_problem(expired, 401, "unauthorized")["detail"]

    logged = capsys.readouterr().err
    secrets = [
        first["access_token"],
        first["refresh_token"],
        second["refresh_token"],
        token,
        PASSWORD,
        "$argon2id$",
    ]
    for secret in secrets:
        assert secret not in logged
    assert "request" in logged  # the access log was captured


async def test_responses_never_carry_hashes_or_secrets(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        tokens = await sign_up(client, platform, "bo@example.org")
        for path in ("/api/v1/me", "/api/v1/me/organizations"):
            text = (await client.get(path, headers=auth(tokens))).text
            assert "argon2" not in text
            assert "password" not in text
    for message in await mail_to(platform, "bo@example.org"):
        assert PASSWORD not in json.dumps(message)


async def test_registration_does_not_reveal_existing_addresses(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        body = {"email": "cy@example.org", "password": PASSWORD}
        first = await client.post("/api/v1/auth/register", json=body)
        second = await client.post("/api/v1/auth/register", json=body)
        assert (first.status_code, first.json()) == (second.status_code, second.json())
        templates = [m["template"] for m in await mail_to(platform, "cy@example.org")]
        assert templates == ["verify-email", "already-registered"] or sorted(templates) == [
            "already-registered",
            "verify-email",
        ]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", "at least 10"),
        ("password123", "common passwords"),
        ("aaaaaaaaaaaa", "three different"),
        ("dana.smith-secret", "e-mail address"),
        ("x" * 129, "at most 128"),
    ],
)
async def test_password_policy_names_each_rule(
    platform: Platform, make_client: Any, password: str, rule: str
) -> None:
    async with make_client(platform) as client:
        response = await client.post(
            "/api/v1/auth/register", json={"email": "dana.smith@example.org", "password": password}
        )
        body = assert_problem(response, 400, "validation")
        assert any(rule in e["message"] and e["field"] == "password" for e in body["errors"]), body
    assert await mail_to(platform, "dana.smith@example.org") == []


async def test_bad_credentials_are_generic_and_guessing_is_slowed_per_client(
    platform: Platform, clock: ManualClock
) -> None:
    """Five wrong passwords from one client make that client wait; the owner, signing in
    from elsewhere, is not locked out by someone else's guesses; a reset lifts the wait."""
    app = client_addresses(create_app(platform))
    async with app_client(app) as client:
        await sign_up(client, platform, "eve@example.org")
        attacker = {"x-test-client": "198.51.100.7"}
        owner = {"x-test-client": "203.0.113.20"}

        def login(password: str, headers: dict[str, str], email: str = "eve@example.org") -> Any:
            body = {"email": email, "password": password}
            return client.post("/api/v1/auth/login", json=body, headers=headers)

        unknown = await login(PASSWORD, attacker, email="nobody@example.org")
        wrong = await login("not it at all", attacker)
        assert (
            assert_problem(unknown, 401, "unauthorized")["detail"]
            == assert_problem(wrong, 401, "unauthorized")["detail"]
        )
        for _ in range(4):
            assert (await login("still wrong!", attacker)).status_code == 401
        waiting = await login(PASSWORD, attacker)
        assert_problem(waiting, 429, "rate-limited")
        assert int(waiting.headers["retry-after"]) > 0
        assert (await login(PASSWORD, owner)).status_code == 200, "the owner is not locked out"
        for _ in range(5):  # an unknown address is slowed the same way: nothing to learn
            await login("guess", attacker, email="nobody@example.org")
        assert (await login("guess", attacker, email="nobody@example.org")).status_code == 429

        forgot = await client.post(
            "/api/v1/auth/password/forgot", json={"email": "eve@example.org"}, headers=owner
        )
        assert forgot.status_code == 202
        token = await link_token(platform, "eve@example.org", "reset-password")
        reset = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "password": "a brand new secret"}
        )
        assert reset.status_code == 204
        assert (await login("a brand new secret", attacker)).status_code == 200, "reset lifts it"
        clock.advance(minutes=16)
        assert (await login("guess", attacker, email="nobody@example.org")).status_code == 401


async def test_reset_tokens_are_single_use_expiring_and_silent_about_accounts(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        old_session = await sign_up(client, platform, "fay@example.org")
        unknown = await client.post(
            "/api/v1/auth/password/forgot", json={"email": "ghost@example.org"}
        )
        known = await client.post("/api/v1/auth/password/forgot", json={"email": "fay@example.org"})
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert await mail_to(platform, "ghost@example.org") == []
        token = await link_token(platform, "fay@example.org", "reset-password")
        ok = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "password": "another fine secret"}
        )
        assert ok.status_code == 204
        reused = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "password": "yet another secret"}
        )
        assert_problem(reused, 422, "rule-violated")
        # The reset ended every session.
        assert_problem(
            await client.get("/api/v1/me", headers=auth(old_session)), 401, "unauthorized"
        )

        await client.post("/api/v1/auth/password/forgot", json={"email": "fay@example.org"})
        late = await link_token(platform, "fay@example.org", "reset-password")
        clock.advance(timedelta(hours=1, seconds=1))
        expired = await client.post(
            "/api/v1/auth/password/reset", json={"token": late, "password": "too late secret"}
        )
        assert_problem(expired, 422, "rule-violated")
        await sign_in(client, "fay@example.org", "another fine secret")


async def test_password_change_keeps_this_session_and_ends_the_others(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        here = await sign_up(client, platform, "gus@example.org")
        elsewhere = await sign_in(client, "gus@example.org")
        wrong = await client.post(
            "/api/v1/auth/password/change",
            headers=auth(here),
            json={"current_password": "not my password", "new_password": "my next password"},
        )
        assert assert_problem(wrong, 400, "validation")["errors"][0]["field"] == "current_password"
        changed = await client.post(
            "/api/v1/auth/password/change",
            headers=auth(here),
            json={"current_password": PASSWORD, "new_password": "my next password"},
        )
        assert changed.status_code == 204
        assert (await client.get("/api/v1/me", headers=auth(here))).status_code == 200
        assert_problem(await client.get("/api/v1/me", headers=auth(elsewhere)), 401, "unauthorized")


async def test_profile_update_and_privacy(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        hal = await sign_up(client, platform, "hal@example.org")
        ivy = await sign_up(client, platform, "ivy@example.org")
        updated = await client.patch(
            "/api/v1/me",
            headers=auth(hal),
            json={"name": "Hal", "time_zone": "Asia/Kolkata", "country": "IN", "locale": "hi"},
        )
        assert updated.status_code == 200
        assert (updated.json()["time_zone"], updated.json()["country"]) == ("Asia/Kolkata", "IN")
        bad = await client.patch("/api/v1/me", headers=auth(hal), json={"time_zone": "Mars/Base"})
        assert assert_problem(bad, 400, "validation")["errors"][0]["field"] == "time_zone"
        hal_id = updated.json()["id"]
        ivy_id = (await client.get("/api/v1/me", headers=auth(ivy))).json()["id"]
        assert (await client.get(f"/api/v1/users/{hal_id}", headers=auth(hal))).status_code == 200
        assert_problem(
            await client.get(f"/api/v1/users/{ivy_id}", headers=auth(hal)), 404, "not-found"
        )


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer bxk_nope_nope",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Bearer " + "a" * 5000,
    ],
)
async def test_malformed_tokens_get_401_problems(
    platform: Platform, make_client: Any, header: str
) -> None:
    async with make_client(platform) as client:
        headers = {"authorization": header} if header else {}
        response = await client.get("/api/v1/me", headers=headers)
        assert_problem(response, 401, "unauthorized")


async def test_a_token_signed_with_another_key_is_refused(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    import uuid

    from boxoffice.core.identity.tokens import TokenSigner

    forged = TokenSigner.from_secrets(["an-attacker-key-that-is-long-enough-0000"]).issue(
        user_id=uuid.uuid4(), session_id=uuid.uuid4(), now=clock.now(), ttl=timedelta(hours=1)
    )
    async with make_client(platform) as client:
        assert_problem(await client.get("/api/v1/me", headers=auth(forged)), 401, "unauthorized")


async def test_sign_in_and_reset_are_rate_limited(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        statuses = []
        for _ in range(11):
            response = await client.post(
                "/api/v1/auth/login", json={"email": "kim@example.org", "password": "nope nope"}
            )
            statuses.append(response.status_code)
        assert statuses[:5] == [401] * 5, "five failed sign-ins per address and client"
        assert statuses[5:] == [429] * 6
        assert int(response.headers["retry-after"]) > 0
        for _ in range(3):
            assert (
                await client.post("/api/v1/auth/password/forgot", json={"email": "kim@example.org"})
            ).status_code == 202
        limited = await client.post(
            "/api/v1/auth/password/forgot", json={"email": "kim@example.org"}
        )
        assert_problem(limited, 429, "rate-limited")


async def test_two_refreshes_racing_with_one_token_cannot_both_win(
    platform: Platform, make_client: Any
) -> None:
    """The same refresh token presented twice at once: one conditional UPDATE decides; the
    loser is treated as reuse, so the session ends rather than forking."""
    import asyncio

    async with make_client(platform) as client:
        tokens = await sign_up(client, platform, "race@example.org")
        results = await asyncio.gather(
            *(
                client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
                for _ in range(2)
            )
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses in ([200, 401], [401, 401]), statuses
        winners = [r.json() for r in results if r.status_code == 200]
        for winner in winners:
            # The session was revoked by the losing (reused) presentation.
            assert (await client.get("/api/v1/me", headers=auth(winner))).status_code == 401


async def test_maintenance_deletes_what_has_expired(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    from sqlalchemy import func, select

    from boxoffice.core.maintenance import run_maintenance
    from boxoffice.core.ratelimit import RateLimitWindow

    async with make_client(platform) as client:
        await client.post(
            "/api/v1/auth/login", json={"email": "x@example.org", "password": "whatever it is"}
        )
    async with platform.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(RateLimitWindow)) == 2
    clock.advance(hours=2)
    await run_maintenance(platform.db, clock)
    async with platform.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(RateLimitWindow)) == 0
