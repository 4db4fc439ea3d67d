"""The identity provider protocol: sign-in through OAuth 2.0 / OpenID Connect providers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.providers import ProviderHealth


class ExternalProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Who the provider says signed in. ``subject`` is stable per provider and person."""

    subject: str
    email: str = ""
    #: Only a provider-verified address links to an existing account.
    email_verified: bool = False
    name: str = ""


@runtime_checkable
class IdentityProvider(Protocol):
    id: str
    display_name: str
    #: The redirect URI registered with the provider (where the browser comes back).
    default_redirect_uri: str

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> str:
        """Where to send the person's browser (PKCE S256 from ``code_verifier``)."""
        ...

    async def exchange(
        self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalProfile:
        """Redeem the code and establish who signed in; check the ID token (signature,
        issuer, audience, expiry, nonce) where the provider issues one. Raises
        :class:`~boxoffice.core.errors.Unauthorized` when anything does not check out."""
        ...

    async def health(self) -> ProviderHealth: ...
