"""What every OAuth provider here shares: client options, PKCE URLs, token exchange."""

from __future__ import annotations

from typing import Any

import msgspec
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

from boxoffice.core.errors import Unauthorized
from boxoffice.core.providers import HealthState, ProviderHealth

TIMEOUT_SECONDS = 10.0


class ClientOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    client_id: str
    client_secret: str = ""
    #: Where the provider sends the browser back; default
    #: ``<public_url>/account/oauth/<id>/callback`` (your front end posts code and state to
    #: ``/api/v1/auth/oauth/<id>/callback``).
    redirect_uri: str = ""
    scopes: list[str] | None = None


class OAuthClientBase:
    """Builds authorization URLs and redeems codes with authlib's client (PKCE S256)."""

    id: str
    display_name: str
    default_scopes: tuple[str, ...] = ()
    client_auth_method = "client_secret_basic"

    def __init__(self, options: ClientOptions, public_url: str) -> None:
        self.options = options
        self.default_redirect_uri = (
            options.redirect_uri or f"{public_url.rstrip('/')}/account/oauth/{self.id}/callback"
        )

    @property
    def scope(self) -> str:
        return " ".join(self.options.scopes or self.default_scopes)

    def client(self, redirect_uri: str, client_secret: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.options.client_id,
            client_secret=client_secret
            if client_secret is not None
            else self.options.client_secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self.client_auth_method,
            timeout=TIMEOUT_SECONDS,
        )

    def build_url(
        self, endpoint: str, *, state: str, code_verifier: str, redirect_uri: str, **extra: str
    ) -> str:
        url, _ = self.client(redirect_uri).create_authorization_url(
            endpoint, state=state, code_verifier=code_verifier, **extra
        )
        return str(url)

    async def fetch_token(
        self,
        endpoint: str,
        *,
        code: str,
        code_verifier: str,
        redirect_uri: str,
        client_secret: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        async with self.client(redirect_uri, client_secret) as client:
            try:
                token = await client.fetch_token(
                    endpoint, code=code, code_verifier=code_verifier, **extra
                )
            except AuthlibBaseError as error:
                raise Unauthorized(
                    f"{self.display_name} refused the sign-in: {error.error}"
                ) from error
        return dict(token)

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP, detail="configured")
