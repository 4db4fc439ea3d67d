"""OpenID Connect providers: discovery, the code flow, and a strictly checked ID token."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from boxoffice.core.clock import Clock
from boxoffice.core.errors import ProviderUnavailable, Unauthorized
from boxoffice.core.identity.provider import ExternalProfile
from boxoffice.providers.oauth.common import TIMEOUT_SECONDS, ClientOptions, OAuthClientBase

#: Clock skew tolerated between us and the provider.
LEEWAY_SECONDS = 120


class OidcOptions(ClientOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    issuer: str
    display_name: str = ""


class GoogleOptions(ClientOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    issuer: str = "https://accounts.google.com"


class MicrosoftOptions(ClientOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: "common", "organizations", "consumers" or a tenant id.
    tenant: str = "common"
    authority: str = "https://login.microsoftonline.com"


class AppleOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    client_id: str  # the Services ID
    team_id: str
    key_id: str
    #: The ES256 private key (.p8 contents), as an env: reference.
    private_key: str
    redirect_uri: str = ""
    scopes: list[str] | None = None
    issuer: str = "https://appleid.apple.com"


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class OidcProvider(OAuthClientBase):
    default_scopes = ("openid", "email", "profile")

    def __init__(self, provider_id: str, display_name: str, options: Any, public_url: str) -> None:
        self.id = provider_id
        self.display_name = display_name
        self.issuer: str = str(options.issuer).rstrip("/")
        super().__init__(options, public_url)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                response = await http.get(url)
                response.raise_for_status()
                data: dict[str, Any] = response.json()
                return data
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(
                f"{self.display_name} cannot be reached right now; try again later"
            ) from error

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = await self._get(self.discovery_url)
        return self._metadata

    async def keys(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get((await self.metadata())["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        return self.build_url(
            endpoint,
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            nonce=nonce,
        )

    async def client_secret(self) -> str | None:
        return None  # the configured one

    async def exchange(
        self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalProfile:
        endpoint = (await self.metadata())["token_endpoint"]
        token = await self.fetch_token(
            endpoint,
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            client_secret=await self.client_secret(),
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthorized(f"{self.display_name} returned no ID token")
        claims = await self.verify_id_token(id_token, nonce)
        return ExternalProfile(
            subject=str(claims["sub"]),
            email=str(claims.get("email", "")),
            email_verified=self.email_verified(claims),
            name=str(claims.get("name", "")),
        )

    def email_verified(self, claims: dict[str, Any]) -> bool:
        return _as_bool(claims.get("email_verified"))

    def expected_issuer(self, claims: dict[str, Any]) -> str:
        return self.issuer

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        algorithms = (await self.metadata()).get("id_token_signing_alg_values_supported", ["RS256"])
        algorithms = [a for a in algorithms if a != "none"]
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=algorithms)
            except JoseError:
                # The provider may have rotated its keys since we fetched them.
                decoded = jwt.decode(id_token, await self.keys(refresh=True), algorithms=algorithms)
        except (JoseError, ValueError) as error:
            raise Unauthorized(f"the ID token from {self.display_name} is not valid") from error
        claims: dict[str, Any] = dict(decoded.claims)
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        problems = []
        if claims.get("iss") != self.expected_issuer(claims):
            problems.append("issuer")
        if self.options.client_id not in audiences:
            problems.append("audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - LEEWAY_SECONDS:
            problems.append("expiry")
        if claims.get("nonce") != nonce:
            problems.append("nonce")
        if not claims.get("sub"):
            problems.append("subject")
        if problems:
            raise Unauthorized(
                f"the ID token from {self.display_name} failed its checks: {', '.join(problems)}"
            )
        return claims


class MicrosoftProvider(OidcProvider):
    def __init__(self, options: MicrosoftOptions, public_url: str) -> None:
        self.tenant = options.tenant
        issuer_options = OidcOptions(
            issuer=f"{options.authority.rstrip('/')}/{options.tenant}/v2.0",
            client_id=options.client_id,
            client_secret=options.client_secret,
            redirect_uri=options.redirect_uri,
            scopes=options.scopes,
        )
        super().__init__("microsoft", "Microsoft", issuer_options, public_url)
        self.authority = options.authority.rstrip("/")

    def expected_issuer(self, claims: dict[str, Any]) -> str:
        # Multi-tenant endpoints issue tokens from the person's own tenant.
        return f"{self.authority}/{claims.get('tid', self.tenant)}/v2.0"

    def email_verified(self, claims: dict[str, Any]) -> bool:
        # Microsoft does not assert e-mail verification in general; only the explicit
        # "e-mail domain owner verified" claim counts.
        return _as_bool(claims.get("xms_edov"))


class AppleProvider(OidcProvider):
    """Sign in with Apple: the client secret is a short-lived ES256 JWT we sign."""

    def __init__(self, options: AppleOptions, public_url: str, clock: Clock) -> None:
        self.apple = options
        self.clock = clock
        self._key = ECKey.import_key(options.private_key.replace("\\n", "\n"))
        oidc = OidcOptions(
            issuer=options.issuer,
            client_id=options.client_id,
            redirect_uri=options.redirect_uri,
            scopes=options.scopes,
        )
        super().__init__("apple", "Apple", oidc, public_url)
        self.client_auth_method = "client_secret_post"

    @property
    def default_scopes(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("openid", "email", "name")

    async def client_secret(self) -> str:
        now = int(self.clock.now().timestamp())
        claims = {
            "iss": self.apple.team_id,
            "iat": now,
            "exp": now + 300,
            "aud": self.issuer,
            "sub": self.apple.client_id,
        }
        return jwt.encode({"alg": "ES256", "kid": self.apple.key_id}, claims, self._key)
