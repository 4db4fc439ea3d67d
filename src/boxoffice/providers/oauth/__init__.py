"""The ``oauth`` plugin: sign-in through Google, Microsoft, Apple, Facebook, GitHub, and any
OpenID Connect provider.

A provider is on when plugins.toml has its table, with secrets as ``env:`` references::

    [providers.google]
    client_id = "env:GOOGLE_CLIENT_ID"
    client_secret = "env:GOOGLE_CLIENT_SECRET"

    [providers.oidc-keycloak]          # any OpenID Connect provider: id starts with "oidc-"
    issuer = "https://sso.example.com/realms/main"
    client_id = "boxoffice"
    client_secret = "env:KEYCLOAK_SECRET"

Google, Microsoft, Apple and generic providers use OpenID Connect (discovery, ID token checked
against the provider's keys, nonce). GitHub and Facebook are plain OAuth 2.0: the profile comes
from their APIs. Every flow uses PKCE (S256) and a single-use state.
"""

from __future__ import annotations

from collections.abc import Sequence

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.identity.provider import IdentityProvider
from boxoffice.providers.oauth.oauth2 import (
    FacebookOptions,
    FacebookProvider,
    GitHubOptions,
    GitHubProvider,
)
from boxoffice.providers.oauth.oidc import (
    AppleOptions,
    AppleProvider,
    GoogleOptions,
    MicrosoftOptions,
    MicrosoftProvider,
    OidcOptions,
    OidcProvider,
)

GENERIC_PREFIX = "oidc-"


@hookimpl
def register_identity_providers(context: PluginContext) -> Sequence[IdentityProvider]:
    made: list[IdentityProvider] = []
    for provider_id in context.configured():
        if provider_id == "google":
            google = context.options("google", GoogleOptions)
            made.append(OidcProvider("google", "Google", google, context.public_url))
        elif provider_id == "microsoft":
            made.append(
                MicrosoftProvider(
                    context.options("microsoft", MicrosoftOptions), context.public_url
                )
            )
        elif provider_id == "apple":
            made.append(
                AppleProvider(
                    context.options("apple", AppleOptions), context.public_url, context.clock
                )
            )
        elif provider_id == "github":
            made.append(
                GitHubProvider(context.options("github", GitHubOptions), context.public_url)
            )
        elif provider_id == "facebook":
            made.append(
                FacebookProvider(context.options("facebook", FacebookOptions), context.public_url)
            )
        elif provider_id.startswith(GENERIC_PREFIX):
            options = context.options(provider_id, OidcOptions)
            made.append(
                OidcProvider(
                    provider_id, options.display_name or provider_id, options, context.public_url
                )
            )
    return made
