"""Accounts: registration, e-mail verification, sign-in, sessions and passwords.

Sign-in issues a short-lived access token and a refresh token. Refresh tokens rotate: each
use returns a new one and retires the old. A retired token presented again means it was
copied, so the whole session (every token of the family) is revoked. Access tokens name
their session, so logout and revocation take effect at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import (
    FieldError,
    Forbidden,
    RuleViolated,
    Unauthorized,
    ValidationFailed,
)
from boxoffice.core.identity.entries import (
    EmailVerified,
    PasswordChanged,
    RefreshTokenReused,
    UserRegistered,
)
from boxoffice.core.identity.models import AuthSession, OneTimeToken, RefreshToken, User
from boxoffice.core.identity.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from boxoffice.core.identity.schemas import (
    ProfileOut,
    ProfileUpdate,
    RegisterIn,
    TokenPair,
    normalize_email,
)
from boxoffice.core.identity.tokens import TokenSigner, hash_secret, new_secret
from boxoffice.core.journal import append
from boxoffice.core.notify.preferences import MARKETING_TEXT_VERSION, record_consent
from boxoffice.core.notify.service import queue_message
from boxoffice.core.ratelimit import forget

VERIFY = "verify-email"
RESET = "reset-password"
BAD_CREDENTIALS = "the e-mail address or the password is wrong"


class AuthPolicy(msgspec.Struct, frozen=True, kw_only=True):
    public_url: str = "http://127.0.0.1:8000"
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    verify_ttl: timedelta = timedelta(hours=48)
    reset_ttl: timedelta = timedelta(hours=1)
    #: Failed sign-ins for one address from one client address before that client must wait
    #: (``lockout``): see :func:`failed_sign_ins_key`.
    max_failed_logins: int = 5
    lockout: timedelta = timedelta(minutes=15)

    def link(self, path: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}{path}?token={quote(token)}"


def profile_of(user: User) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        name=user.name,
        locale=user.locale,
        time_zone=user.time_zone,
        country=user.country,
        marketing_consent=user.marketing_consent,
        marketing_consent_at=user.marketing_consent_at,
        platform_role=user.platform_role,
        status=user.status,
        created_at=user.created_at,
    )


def _check_password(password: str, email: str, name: str = "") -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise ValidationFailed("the password does not meet the policy", errors=problems)


def _check_time_zone(value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationFailed(
            "invalid time zone",
            errors=[FieldError("time_zone", f"{value!r} is not an IANA time zone")],
        ) from error


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.email == email))
    return user


async def issue_one_time_token(
    session: AsyncSession,
    clock: Clock,
    user: User,
    purpose: str,
    ttl: timedelta,
    subject: str = "",
) -> str:
    token = new_secret("ot")
    session.add(
        OneTimeToken(
            purpose=purpose,
            user_id=user.id,
            token_hash=hash_secret(token),
            subject=subject,
            created_at=clock.now(),
            expires_at=clock.now() + ttl,
        )
    )
    await session.flush()
    return token


async def redeem_one_time_token(
    session: AsyncSession, clock: Clock, token: str, purpose: str
) -> OneTimeToken:
    """Use a token exactly once: one conditional UPDATE decides, so two concurrent uses of
    the same link cannot both succeed."""
    now = clock.now()
    row = OneTimeToken
    result = await session.execute(
        update(row)
        .where(
            row.token_hash == hash_secret(token),
            row.purpose == purpose,
            row.used_at.is_(None),
            row.expires_at > now,
        )
        .values(used_at=now)
        .returning(row.id)
    )
    token_id = result.scalar_one_or_none()
    if token_id is None:
        raise RuleViolated(
            "this link is invalid, expired or already used; ask for a new one",
            errors=[FieldError("token", "invalid, expired or already used")],
        )
    found = await session.get(OneTimeToken, token_id)
    assert found is not None
    return found


async def _send_verification(
    session: AsyncSession, clock: Clock, policy: AuthPolicy, user: User
) -> None:
    token = await issue_one_time_token(
        session, clock, user, VERIFY, policy.verify_ttl, subject=user.email
    )
    link = policy.link("/account/verify-email", token)
    await queue_message(
        session,
        clock,
        kind="email",
        to=user.email,
        template=VERIFY,
        locale=user.locale,
        context={
            "name": user.name or user.email,
            "link": link,
            "hours": int(policy.verify_ttl.total_seconds() // 3600),
        },
    )


async def register(
    session: AsyncSession, clock: Clock, policy: AuthPolicy, data: RegisterIn
) -> User | None:
    """Create an account and send the verification link. For an address that already has an
    account, send that person a note instead and return ``None``: the reply to the caller is
    the same either way, so registration cannot be used to probe for addresses."""
    email = normalize_email(data.email)
    _check_password(data.password, email, data.name)
    _check_time_zone(data.time_zone)
    existing = await find_user_by_email(session, email)
    # One argon2 hash whether or not the address has an account: the work done (the time
    # the answer takes) must not tell. The note to an existing address, like the
    # verification link to a new one, goes through the outbox after the response.
    password_hash = hash_password(data.password)
    if existing is not None:
        await queue_message(
            session,
            clock,
            kind="email",
            to=email,
            template="already-registered",
            locale=data.locale,
            context={},
        )
        return None
    now = clock.now()
    user = User(
        email=email,
        password_hash=password_hash,
        name=data.name,
        locale=data.locale,
        time_zone=data.time_zone,
        country=data.country or "",
        marketing_consent=data.marketing_consent,
        marketing_consent_at=now if data.marketing_consent else None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    if data.marketing_consent:
        record_consent(
            session,
            clock,
            email,
            granted=True,
            source="sign-up",
            text_version=data.consent_version or MARKETING_TEXT_VERSION,
        )
    await session.flush()
    await append(session, UserRegistered(user_id=str(user.id)), clock)
    await _send_verification(session, clock, policy, user)
    return user


async def resend_verification(
    session: AsyncSession, clock: Clock, policy: AuthPolicy, user: User
) -> None:
    if user.email_verified_at is not None:
        raise RuleViolated("this e-mail address is verified already")
    await _send_verification(session, clock, policy, user)


async def verify_email(session: AsyncSession, clock: Clock, token: str) -> User:
    used = await redeem_one_time_token(session, clock, token, VERIFY)
    user = await session.get(User, used.user_id, with_for_update=True)
    if user is None or user.email != used.subject:
        raise RuleViolated("this link was for an address the account no longer uses")
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()
        user.updated_at = clock.now()
        await append(session, EmailVerified(user_id=str(user.id)), clock)
    return user


async def start_session(
    session: AsyncSession,
    clock: Clock,
    policy: AuthPolicy,
    signer: TokenSigner,
    user: User,
    user_agent: str,
) -> TokenPair:
    auth_session = AuthSession(user_id=user.id, created_at=clock.now(), user_agent=user_agent[:300])
    session.add(auth_session)
    await session.flush()
    return await _new_pair(session, clock, policy, signer, user.id, auth_session.id)


async def _new_pair(
    session: AsyncSession,
    clock: Clock,
    policy: AuthPolicy,
    signer: TokenSigner,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> TokenPair:
    refresh = new_secret("rt")
    now = clock.now()
    session.add(
        RefreshToken(
            session_id=session_id,
            token_hash=hash_secret(refresh),
            created_at=now,
            expires_at=now + policy.refresh_ttl,
        )
    )
    access = signer.issue(user_id=user_id, session_id=session_id, now=now, ttl=policy.access_ttl)
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(policy.access_ttl.total_seconds()),
    )


class LoginOutcome(msgspec.Struct):
    """What a sign-in attempt led to; failures are committed too (they count)."""

    tokens: TokenPair | None = None
    error: Exception | None = None

    def unwrap(self) -> TokenPair:
        """The tokens, or the refusal raised (after the caller committed the attempt)."""
        if self.error is not None:
            raise self.error
        assert self.tokens is not None
        return self.tokens


def failed_sign_ins_key(address: str, client: str) -> str:
    """The rate-limit key of failed sign-ins for ``address`` from ``client`` (an IP)."""
    return f"login:failed:{address.strip().lower()}:{client}"


async def login(
    session: AsyncSession,
    clock: Clock,
    policy: AuthPolicy,
    signer: TokenSigner,
    email: str,
    password: str,
    user_agent: str = "",
) -> LoginOutcome:
    """Check credentials. Returns the error instead of raising it so that the caller commits
    the failure count (an exception would roll it back)."""
    now = clock.now()
    try:
        address = normalize_email(email)
    except ValidationFailed:
        verify_password(None, password)
        return LoginOutcome(error=Unauthorized(BAD_CREDENTIALS))
    user = await session.scalar(select(User).where(User.email == address).with_for_update())
    # Exactly one argon2 verification on every path (an unknown address is checked against
    # a dummy hash): the time the answer takes says nothing about whether the address has an
    # account. Guessing is slowed per (address, client) by the caller (failed_sign_ins_key),
    # never by locking the account, which anyone could do to anyone.
    password_ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not password_ok:
        return LoginOutcome(error=Unauthorized(BAD_CREDENTIALS))
    if user.status != "active":
        return LoginOutcome(error=Forbidden("this account is suspended; contact support"))
    user.last_login_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginOutcome(
        tokens=await start_session(session, clock, policy, signer, user, user_agent)
    )


async def refresh(
    session: AsyncSession, clock: Clock, policy: AuthPolicy, signer: TokenSigner, token: str
) -> LoginOutcome:
    """Exchange a refresh token for a new pair. Returns the error (rather than raising) so
    the caller commits a reuse revocation."""
    now = clock.now()
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_secret(token))
    )
    invalid = Unauthorized("the refresh token is not valid; sign in again")
    if row is None:
        return LoginOutcome(error=invalid)
    auth_session = await session.get(AuthSession, row.session_id)
    assert auth_session is not None
    if auth_session.revoked_at is not None or row.expires_at <= now:
        return LoginOutcome(error=invalid)
    # One conditional UPDATE decides which presentation rotates the token.
    rotated = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
        .returning(RefreshToken.id)
    )
    if rotated.scalar_one_or_none() is None:
        await revoke_session(session, clock, auth_session.id, "refresh-token-reuse")
        await append(
            session,
            RefreshTokenReused(user_id=str(auth_session.user_id), session_id=str(auth_session.id)),
            clock,
        )
        return LoginOutcome(
            error=Unauthorized(
                "this refresh token was used before, so the session has been ended for safety; "
                "sign in again"
            )
        )
    user = await session.get(User, auth_session.user_id)
    if user is None or user.status != "active":
        return LoginOutcome(error=invalid)
    return LoginOutcome(
        tokens=await _new_pair(session, clock, policy, signer, user.id, auth_session.id)
    )


async def revoke_session(
    session: AsyncSession, clock: Clock, session_id: uuid.UUID, reason: str
) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


async def revoke_all_sessions(
    session: AsyncSession,
    clock: Clock,
    user_id: uuid.UUID,
    reason: str,
    keep: uuid.UUID | None = None,
) -> None:
    statement = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    await session.execute(statement.values(revoked_at=clock.now(), revoked_reason=reason))


async def change_password(
    session: AsyncSession,
    clock: Clock,
    user: User,
    current: str,
    new: str,
    session_id: uuid.UUID | None,
) -> None:
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(
            "the current password is wrong",
            errors=[FieldError("current_password", "does not match")],
        )
    _check_password(new, user.email, user.name)
    user.password_hash = hash_password(new)
    user.updated_at = clock.now()
    await revoke_all_sessions(session, clock, user.id, "password-changed", keep=session_id)
    await append(session, PasswordChanged(user_id=str(user.id)), clock)


async def request_password_reset(
    session: AsyncSession, clock: Clock, policy: AuthPolicy, email: str
) -> None:
    """Send a reset link if the address has an account; say nothing either way."""
    try:
        address = normalize_email(email)
    except ValidationFailed:
        return
    user = await find_user_by_email(session, address)
    if user is None:
        return
    token = await issue_one_time_token(session, clock, user, RESET, policy.reset_ttl)
    link = policy.link("/account/reset-password", token)
    await queue_message(
        session,
        clock,
        kind="email",
        to=user.email,
        template=RESET,
        locale=user.locale,
        context={"link": link, "minutes": int(policy.reset_ttl.total_seconds() // 60)},
    )


async def reset_password(session: AsyncSession, clock: Clock, token: str, new: str) -> User:
    used = await redeem_one_time_token(session, clock, token, RESET)
    user = await session.get(User, used.user_id, with_for_update=True)
    assert user is not None
    _check_password(new, user.email, user.name)
    user.password_hash = hash_password(new)
    # A reset lets its owner in at once, from wherever failed sign-ins were counted.
    await forget(session, failed_sign_ins_key(user.email, ""))
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()  # they proved they read this inbox
    user.updated_at = clock.now()
    await revoke_all_sessions(session, clock, user.id, "password-reset")
    await append(session, PasswordChanged(user_id=str(user.id), by_reset=True), clock)
    return user


def update_profile(user: User, change: ProfileUpdate, now: datetime) -> None:
    if not isinstance(change.time_zone, msgspec.UnsetType):
        _check_time_zone(change.time_zone)
        user.time_zone = change.time_zone
    if not isinstance(change.name, msgspec.UnsetType):
        user.name = change.name
    if not isinstance(change.locale, msgspec.UnsetType):
        user.locale = change.locale
    if not isinstance(change.country, msgspec.UnsetType):
        user.country = change.country or ""
    if not isinstance(change.marketing_consent, msgspec.UnsetType) and (
        change.marketing_consent != user.marketing_consent
    ):
        user.marketing_consent = change.marketing_consent
        user.marketing_consent_at = now  # when the current choice was made
    user.updated_at = now
