"""OAuth 2.0 providers without OpenID Connect: GitHub and Facebook.

Neither issues an ID token, so who signed in comes from their APIs, called with the access
token the code was exchanged for. There is no nonce; PKCE and the single-use state protect the
flow.
"""

from __future__ import annotations

from typing import Any

import httpx

from boxoffice.core.errors import ProviderUnavailable, Unauthorized
from boxoffice.core.identity.provider import ExternalProfile
from boxoffice.providers.oauth.common import TIMEOUT_SECONDS, ClientOptions, OAuthClientBase


class GitHubOptions(ClientOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: GitHub Enterprise Server or a test double can point these elsewhere.
    web_url: str = "https://github.com"
    api_url: str = "https://api.github.com"


class FacebookOptions(ClientOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    graph_version: str = "v21.0"
    web_url: str = "https://www.facebook.com"
    graph_url: str = "https://graph.facebook.com"


class _ApiProvider(OAuthClientBase):
    async def _api(self, url: str, access_token: str, **params: str) -> Any:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                response = await http.get(
                    url,
                    params=params,
                    headers={
                        "authorization": f"Bearer {access_token}",
                        "accept": "application/json",
                    },
                )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.display_name} cannot be reached right now") from error
        if response.status_code in (401, 403):
            raise Unauthorized(f"{self.display_name} did not accept the sign-in")
        if response.status_code >= 400:
            raise ProviderUnavailable(f"{self.display_name} answered {response.status_code}")
        return response.json()


class GitHubProvider(_ApiProvider):
    id = "github"
    display_name = "GitHub"
    default_scopes = ("read:user", "user:email")
    client_auth_method = "client_secret_post"

    def __init__(self, options: GitHubOptions, public_url: str) -> None:
        super().__init__(options, public_url)
        self.web_url = options.web_url.rstrip("/")
        self.api_url = options.api_url.rstrip("/")

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> str:
        return self.build_url(
            f"{self.web_url}/login/oauth/authorize",
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
        )

    async def exchange(
        self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalProfile:
        token = await self.fetch_token(
            f"{self.web_url}/login/oauth/access_token",
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            headers={"accept": "application/json"},
        )
        access = str(token.get("access_token", ""))
        user = await self._api(f"{self.api_url}/user", access)
        emails = await self._api(f"{self.api_url}/user/emails", access)
        primary = next((e for e in emails if e.get("primary") and e.get("verified")), None)
        any_verified = next((e for e in emails if e.get("verified")), None)
        chosen = primary or any_verified
        return ExternalProfile(
            subject=str(user["id"]),
            email=str(chosen["email"]) if chosen else str(user.get("email") or ""),
            email_verified=chosen is not None,
            name=str(user.get("name") or user.get("login") or ""),
        )


class FacebookProvider(_ApiProvider):
    id = "facebook"
    display_name = "Facebook"
    default_scopes = ("email", "public_profile")
    client_auth_method = "client_secret_post"

    def __init__(self, options: FacebookOptions, public_url: str) -> None:
        super().__init__(options, public_url)
        self.fb = options

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> str:
        return self.build_url(
            f"{self.fb.web_url}/{self.fb.graph_version}/dialog/oauth",
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
        )

    async def exchange(
        self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalProfile:
        graph = f"{self.fb.graph_url}/{self.fb.graph_version}"
        token = await self.fetch_token(
            f"{graph}/oauth/access_token",
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
        )
        me = await self._api(
            f"{graph}/me", str(token.get("access_token", "")), fields="id,name,email"
        )
        # Facebook only returns addresses its users have confirmed.
        return ExternalProfile(
            subject=str(me["id"]),
            email=str(me.get("email", "")),
            email_verified=bool(me.get("email")),
            name=str(me.get("name", "")),
        )
