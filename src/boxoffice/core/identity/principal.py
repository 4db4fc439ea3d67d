"""Who is calling: a signed-in user (access token) or an organization's API key."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.errors import Forbidden, NotFound, Unauthorized
from boxoffice.core.identity.models import ApiKey, AuthSession, Membership, User
from boxoffice.core.identity.permissions import ROLE_PERMISSIONS, Permission, Role
from boxoffice.core.identity.tokens import TokenSigner, hash_secret, secrets_equal
from boxoffice.core.storage import table_of
from boxoffice.core.storage.prepared import Prepared

API_KEY_PREFIX = "bxk"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user: User | None = None
    session_id: uuid.UUID | None = None
    api_key: ApiKey | None = None

    @property
    def is_platform_admin(self) -> bool:
        return self.user is not None and self.user.platform_role == "admin"

    def require_user(self) -> User:
        if self.user is None:
            raise Forbidden("this needs a person's sign-in, not an API key")
        return self.user

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.id}"
        assert self.api_key is not None
        return f"api_key:{self.api_key.id}"


def _bearer(authorization: str | None) -> str:
    """The credential of an ``Authorization: Bearer …`` header; :class:`Unauthorized` if none."""
    if not authorization:
        raise Unauthorized("sign in: send Authorization: Bearer <access token or API key>")
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("use the Bearer scheme: Authorization: Bearer <token>")
    return credential


def _is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX + "_")


def _key_prefix(credential: str) -> str:
    parts = credential.split("_")
    if len(parts) != 3:
        raise Unauthorized("the API key is not valid")
    return parts[1]


def _checked_key(key: ApiKey | None, credential: str) -> ApiKey:
    if key is None or not secrets_equal(key.key_hash, hash_secret(credential)):
        raise Unauthorized("the API key is not valid")
    if key.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    return key


def _signed_in(user: User | None, revoked_at: datetime | None, session_id: uuid.UUID) -> Principal:
    if user is None:
        raise Unauthorized("the access token is not valid")
    if revoked_at is not None:
        raise Unauthorized("this session has ended; sign in again")
    if user.status != "active":
        raise Forbidden("this account is suspended; contact support")
    return Principal(user=user, session_id=session_id)


async def authenticate(
    session: AsyncSession, signer: TokenSigner, authorization: str | None, now: datetime
) -> Principal:
    """Resolve an ``Authorization: Bearer …`` header; :class:`Unauthorized` if it fails."""
    credential = _bearer(authorization)
    if _is_api_key(credential):
        prefix = _key_prefix(credential)
        key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        return Principal(api_key=_checked_key(key, credential))
    claims = signer.verify(credential, now)
    row = (
        await session.execute(
            select(User, AuthSession.revoked_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == claims.user_id, AuthSession.id == claims.session_id)
        )
    ).first()
    user, revoked_at = row if row is not None else (None, None)
    return _signed_in(user, revoked_at, claims.session_id)


_KEYS, _USERS, _SESSIONS = table_of(ApiKey), table_of(User), table_of(AuthSession)
_MEMBERS = table_of(Membership)
_KEY_BY_PREFIX = Prepared(select(_KEYS).where(_KEYS.c.prefix == bindparam("prefix")))
_USER_IN_SESSION = Prepared(
    select(_USERS, _SESSIONS.c.revoked_at.label("session_revoked_at"))
    .join(_SESSIONS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(_USERS.c.id == bindparam("user_id"), _SESSIONS.c.id == bindparam("session_id"))
)
_ROLE = Prepared(
    select(_MEMBERS.c.role).where(
        _MEMBERS.c.organization_id == bindparam("organization_id"),
        _MEMBERS.c.user_id == bindparam("user_id"),
    )
)
_TOUCH_KEY = Prepared(
    update(_KEYS).where(_KEYS.c.id == bindparam("key_id")).values(last_used_at=bindparam("now"))
)


def authenticate_sync(
    connection: Connection, signer: TokenSigner, authorization: str | None, now: datetime
) -> Principal:
    """:func:`authenticate` inside a hot path's unit of work (:meth:`Database.run`), with
    prepared statements: the same checks, the same answers. The user or key it returns is
    a complete but detached record (no ORM session). A stale key's use is recorded here, in
    the same transaction (deferred: no extra round trip)."""
    credential = _bearer(authorization)
    if _is_api_key(credential):
        row = _KEY_BY_PREFIX.first(connection, {"prefix": _key_prefix(credential)})
        key = _checked_key(ApiKey(**row._asdict()) if row is not None else None, credential)
        if api_key_use_is_stale(key, now):
            record_api_key_use(connection, key.id, now)
        return Principal(api_key=key)
    claims = signer.verify(credential, now)
    found = _USER_IN_SESSION.first(
        connection, {"user_id": claims.user_id, "session_id": claims.session_id}
    )
    if found is None:
        return _signed_in(None, None, claims.session_id)
    columns = found._asdict()
    revoked_at = columns.pop("session_revoked_at")
    return _signed_in(User(**columns), revoked_at, claims.session_id)


def api_key_use_is_stale(key: ApiKey, now: datetime) -> bool:
    """Whether to record a use of ``key``: at most once a minute, so that a busy integration
    does not turn every read into a write."""
    return key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60


def record_api_key_use(connection: Connection, key_id: uuid.UUID, now: datetime) -> None:
    """Note that the key was used ``now`` (a write deferred to the end of the unit of work)."""
    _TOUCH_KEY.defer(connection, {"key_id": key_id, "now": now})


async def authorize(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    permission: Permission,
) -> Role | None:
    """Allow ``permission`` in the organization or raise (:func:`permit`)."""
    role = None
    if principal.api_key is None:
        membership = await session.get(Membership, (organization_id, principal.require_user().id))
        role = membership.role if membership is not None else None
    return permit(principal, organization_id, permission, role)


def authorize_sync(
    connection: Connection,
    principal: Principal,
    organization_id: uuid.UUID,
    permission: Permission,
) -> Role | None:
    """:func:`authorize` on a synchronous connection (a hot path's unit of work)."""
    role = None
    if principal.api_key is None:
        user_id = principal.require_user().id
        row = _ROLE.first(connection, {"organization_id": organization_id, "user_id": user_id})
        role = row.role if row is not None else None
    return permit(principal, organization_id, permission, role)


def permit(
    principal: Principal,
    organization_id: uuid.UUID,
    permission: Permission,
    membership_role: str | None,
) -> Role | None:
    """Allow ``permission`` in the organization to an API key of it with that scope, or to a
    member (``membership_role``: theirs, ``None`` if they are not one) whose role has it.
    Someone outside the organization gets 404, never 403: they learn nothing about it, not
    even that it exists."""
    hidden = NotFound(f"no organization {organization_id}")
    if principal.api_key is not None:
        if principal.api_key.organization_id != organization_id:
            raise hidden
        if permission not in principal.api_key.scopes:
            raise Forbidden(
                f"this API key lacks the scope {permission!s}",
                extra={"required_scope": str(permission)},
            )
        return None
    principal.require_user()
    if membership_role is None:
        raise hidden
    role = Role(membership_role)
    if permission not in ROLE_PERMISSIONS[role]:
        raise Forbidden(
            f"your role ({role}) does not allow {permission!s}",
            extra={"role": str(role), "required": str(permission)},
        )
    return role
