"""Signing in through an identity provider: the authorization-code flow with PKCE, state and
nonce, and linking the person to an account.

The attempt (state, nonce, PKCE verifier) is kept in the database so any API process can
serve the callback, and it is used at most once. Linking: a known provider identity signs in
its user; otherwise an address the provider verified links to the account with that address;
otherwise a new account is made. An unverified address never links to an existing account.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, FieldError, RuleViolated
from boxoffice.core.identity.entries import ExternalIdentityLinked, UserRegistered
from boxoffice.core.identity.models import ExternalIdentity, SignInAttempt, User
from boxoffice.core.identity.provider import ExternalProfile, IdentityProvider
from boxoffice.core.identity.schemas import normalize_email
from boxoffice.core.journal import append

ATTEMPT_TTL = timedelta(minutes=10)


async def start_sign_in(
    session: AsyncSession, clock: Clock, provider: IdentityProvider, redirect_uri: str
) -> tuple[str, str]:
    """Record a new attempt; returns (authorization URL, state)."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    now = clock.now()
    session.add(
        SignInAttempt(
            state=state,
            provider=provider.id,
            code_verifier=verifier,
            nonce=nonce,
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + ATTEMPT_TTL,
        )
    )
    url = await provider.authorization_url(
        state=state, nonce=nonce, code_verifier=verifier, redirect_uri=redirect_uri
    )
    return url, state


async def claim_attempt(
    session: AsyncSession, clock: Clock, provider_id: str, state: str
) -> SignInAttempt:
    """The attempt ``state`` names, used once: a replayed or forged state is refused."""
    now = clock.now()
    claimed = await session.execute(
        update(SignInAttempt)
        .where(
            SignInAttempt.state == state,
            SignInAttempt.provider == provider_id,
            SignInAttempt.used_at.is_(None),
            SignInAttempt.expires_at > now,
        )
        .values(used_at=now)
        .returning(SignInAttempt.state)
    )
    if claimed.scalar_one_or_none() is None:
        raise RuleViolated(
            "this sign-in attempt is unknown, expired or already used; start again",
            errors=[FieldError("state", "invalid")],
        )
    attempt = await session.get(SignInAttempt, state)
    assert attempt is not None
    return attempt


async def link_or_create(
    session: AsyncSession, clock: Clock, provider_id: str, profile: ExternalProfile
) -> User:
    known = await session.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.provider == provider_id, ExternalIdentity.subject == profile.subject
        )
    )
    if known is not None:
        user = await session.get(User, known.user_id)
        assert user is not None
        return user
    if not profile.email:
        raise RuleViolated(f"{provider_id} did not share an e-mail address; allow it and try again")
    email = normalize_email(profile.email)
    now = clock.now()
    user = await session.scalar(select(User).where(User.email == email).with_for_update())
    if user is not None and not profile.email_verified:
        raise Conflict(
            f"an account with {email} exists, and {provider_id} has not verified "
            "that address: sign in with your password instead"
        )
    if user is None:
        user = User(
            email=email,
            password_hash=None,
            name=profile.name,
            created_at=now,
            updated_at=now,
            email_verified_at=now if profile.email_verified else None,
        )
        session.add(user)
        await session.flush()
        await append(session, UserRegistered(user_id=str(user.id), via=provider_id), clock)
    elif user.email_verified_at is None:
        user.email_verified_at = now  # the provider vouches for the address
    session.add(
        ExternalIdentity(
            provider=provider_id,
            subject=profile.subject,
            user_id=user.id,
            email=email,
            created_at=now,
        )
    )
    await append(session, ExternalIdentityLinked(user_id=str(user.id), provider=provider_id), clock)
    await session.flush()
    return user
