"""Sign-in through a real OpenID Connect provider (authlib, on loopback) and the GitHub preset
(plain OAuth 2.0) against the same server: PKCE, state, nonce and account linking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from boxoffice.core.identity.models import SignInAttempt
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, sign_up
from tests.identity.oidc_server import LocalOpenIDProvider, Person

PUBLIC_URL = "https://tickets.example.test"


@pytest.fixture
def provider() -> Iterator[LocalOpenIDProvider]:
    with LocalOpenIDProvider() as server:
        server.add_client(
            "boxoffice-test", "s3cret-oidc", f"{PUBLIC_URL}/account/oauth/oidc-local/callback"
        )
        server.add_client("gh-client", "s3cret-gh", f"{PUBLIC_URL}/account/oauth/github/callback")
        server.add_client("fb-client", "s3cret-fb", f"{PUBLIC_URL}/account/oauth/facebook/callback")
        server.add_person("alice", Person("alice-1", "alice@example.org", "Alice Liddell"))
        server.add_person(
            "mad", Person("hatter-9", "hatter@example.org", "Hatter", email_verified=False)
        )
        server.add_person("octo", Person("4242", "octo@example.org", "Octo Cat", login="octocat"))
        yield server


@pytest.fixture
def platform(make_platform: factories.MakePlatform, provider: LocalOpenIDProvider) -> Platform:
    config = (
        factories.PLUGINS_TOML
        + f"""
[providers.oidc-local]
issuer = "{provider.issuer}"
display_name = "Local SSO"
client_id = "boxoffice-test"
client_secret = "env:LOCAL_OIDC_SECRET"

[providers.github]
client_id = "gh-client"
client_secret = "env:GITHUB_SECRET"
web_url = "{provider.issuer}"
api_url = "{provider.issuer}"

[providers.facebook]
client_id = "fb-client"
client_secret = "env:FACEBOOK_SECRET"
web_url = "{provider.issuer}"
graph_url = "{provider.issuer}"
"""
    )
    return make_platform(
        config=config,
        entry_points=True,
        environ={
            "LOCAL_OIDC_SECRET": "s3cret-oidc",
            "GITHUB_SECRET": "s3cret-gh",
            "FACEBOOK_SECRET": "s3cret-fb",
        },
    )


def browser_signs_in(authorization_url: str, hint: str) -> dict[str, str]:
    """What the person's browser does: visit the provider, sign in, come back with a code."""
    response = httpx.get(f"{authorization_url}&login_hint={hint}", follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert "code" in query, query
    return query


async def sign_in_with(client: Any, provider_id: str, hint: str) -> Any:
    started = (await client.post(f"/api/v1/auth/oauth/{provider_id}/start")).json()
    returned = browser_signs_in(started["authorization_url"], hint)
    assert returned["state"] == started["state"]
    return await client.post(
        f"/api/v1/auth/oauth/{provider_id}/callback",
        json={"code": returned["code"], "state": returned["state"]},
    )


async def test_openid_connect_sign_in_creates_then_recognises_the_account(
    platform: Platform, make_client: Any, provider: LocalOpenIDProvider
) -> None:
    async with make_client(platform) as client:
        listed = (await client.get("/api/v1/auth/oauth")).json()
        assert {"id": "oidc-local", "display_name": "Local SSO"} in listed
        started = (await client.post("/api/v1/auth/oauth/oidc-local/start")).json()
        query = parse_qs(urlsplit(started["authorization_url"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["nonce"][0]
        assert query["state"] == [started["state"]]
        assert query["redirect_uri"] == [f"{PUBLIC_URL}/account/oauth/oidc-local/callback"]

        first = await sign_in_with(client, "oidc-local", "alice")
        assert first.status_code == 200, first.text
        me = (await client.get("/api/v1/me", headers=auth(first.json()))).json()
        assert (me["email"], me["email_verified"], me["name"]) == (
            "alice@example.org",
            True,
            "Alice Liddell",
        )
        again = await sign_in_with(client, "oidc-local", "alice")
        assert (await client.get("/api/v1/me", headers=auth(again.json()))).json()["id"] == me["id"]
        # The token request carried the PKCE verifier.
        assert all("code_verifier" in r for r in provider.token_requests)


async def test_a_verified_address_links_to_the_existing_account(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        password_tokens = await sign_up(client, platform, "alice@example.org")
        existing = (await client.get("/api/v1/me", headers=auth(password_tokens))).json()["id"]
        linked = await sign_in_with(client, "oidc-local", "alice")
        assert (await client.get("/api/v1/me", headers=auth(linked.json()))).json()[
            "id"
        ] == existing


async def test_an_unverified_address_never_takes_over_an_account(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        await sign_up(client, platform, "hatter@example.org")
        refused = await sign_in_with(client, "oidc-local", "mad")
        assert refused.status_code == 409
        assert "has not verified" in refused.json()["detail"]


async def test_state_is_single_use_and_nonce_and_pkce_are_enforced(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        started = (await client.post("/api/v1/auth/oauth/oidc-local/start")).json()
        returned = browser_signs_in(started["authorization_url"], "alice")
        forged = await client.post(
            "/api/v1/auth/oauth/oidc-local/callback",
            json={"code": returned["code"], "state": "forged-state"},
        )
        assert forged.status_code == 422
        async with platform.db.transaction() as session:
            await session.execute(
                update(SignInAttempt)
                .where(SignInAttempt.state == started["state"])
                .values(nonce="not-the-nonce-sent")
            )
        wrong_nonce = await client.post(
            "/api/v1/auth/oauth/oidc-local/callback",
            json={"code": returned["code"], "state": returned["state"]},
        )
        assert wrong_nonce.status_code == 401
        assert "nonce" in wrong_nonce.json()["detail"]
        replay = await client.post(
            "/api/v1/auth/oauth/oidc-local/callback",
            json={"code": returned["code"], "state": returned["state"]},
        )
        assert replay.status_code == 422

        started = (await client.post("/api/v1/auth/oauth/oidc-local/start")).json()
        returned = browser_signs_in(started["authorization_url"], "alice")
        async with platform.db.transaction() as session:
            await session.execute(
                update(SignInAttempt)
                .where(SignInAttempt.state == started["state"])
                .values(code_verifier="x" * 64)
            )
        bad_verifier = await client.post(
            "/api/v1/auth/oauth/oidc-local/callback",
            json={"code": returned["code"], "state": returned["state"]},
        )
        assert bad_verifier.status_code == 401
        assert "refused" in bad_verifier.json()["detail"]
        assert (await client.post("/api/v1/auth/oauth/nope/start")).status_code == 404


async def test_github_preset_uses_the_user_apis(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        signed_in = await sign_in_with(client, "github", "octo")
        assert signed_in.status_code == 200, signed_in.text
        me = (await client.get("/api/v1/me", headers=auth(signed_in.json()))).json()
        assert (me["email"], me["email_verified"], me["name"]) == (
            "octo@example.org",
            True,
            "Octo Cat",
        )


async def test_facebook_preset_uses_the_graph_api(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        signed_in = await sign_in_with(client, "facebook", "alice")
        assert signed_in.status_code == 200, signed_in.text
        me = (await client.get("/api/v1/me", headers=auth(signed_in.json()))).json()
        assert (me["email"], me["email_verified"]) == ("alice@example.org", True)


def test_microsoft_checks_the_issuer_of_the_persons_tenant() -> None:
    from boxoffice.providers.oauth.oidc import MicrosoftOptions, MicrosoftProvider

    microsoft = MicrosoftProvider(MicrosoftOptions(client_id="app"), PUBLIC_URL)
    assert microsoft.discovery_url == (
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    )
    assert microsoft.expected_issuer({"tid": "9188040d"}) == (
        "https://login.microsoftonline.com/9188040d/v2.0"
    )
    assert microsoft.email_verified({"email": "a@b.c"}) is False
    assert microsoft.email_verified({"xms_edov": True}) is True


async def test_apple_client_secret_is_a_signed_es256_jwt() -> None:
    from joserfc import jwt
    from joserfc.jwk import ECKey

    from boxoffice.core.clock import ManualClock
    from boxoffice.providers.oauth.oidc import AppleOptions, AppleProvider

    key = ECKey.generate_key("P-256")
    pem = key.as_pem(private=True).decode()
    apple = AppleProvider(
        AppleOptions(
            client_id="com.example.web", team_id="TEAM123", key_id="KEY456", private_key=pem
        ),
        PUBLIC_URL,
        ManualClock(),
    )
    secret = await apple.client_secret()
    decoded = jwt.decode(secret, key, algorithms=["ES256"])
    assert decoded.header["kid"] == "KEY456"
    assert decoded.claims["iss"] == "TEAM123"
    assert decoded.claims["sub"] == "com.example.web"
    assert decoded.claims["aud"] == "https://appleid.apple.com"
    assert apple.scope == "openid email name"
