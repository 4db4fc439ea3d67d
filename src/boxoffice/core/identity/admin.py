"""Platform administration: finding users, suspending them, roles, statistics."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import String, cast, distinct, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock
from boxoffice.core.errors import NotFound, RuleViolated
from boxoffice.core.identity.accounts import find_user_by_email, profile_of, revoke_all_sessions
from boxoffice.core.identity.entries import PlatformRoleChanged, UserStatusChanged
from boxoffice.core.identity.models import Organization, User
from boxoffice.core.identity.schemas import SignupsPerDay, StatsOut, UserPage
from boxoffice.core.journal import append
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.storage import LIKE_ESCAPE, substring_pattern


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    created_at: datetime
    id: uuid.UUID


async def list_users(
    session: AsyncSession, *, q: str = "", limit: int = 50, cursor: str | None = None
) -> UserPage:
    """Newest first; ``q`` matches e-mail or name (case-insensitive substring)."""
    statement = select(User).order_by(User.created_at.desc(), User.id.desc()).limit(limit + 1)
    if q.strip():
        pattern = substring_pattern(q.strip())
        statement = statement.where(
            or_(
                func.lower(User.email).like(pattern, escape=LIKE_ESCAPE),
                func.lower(User.name).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    if cursor:
        after = decode_cursor(cursor, _Cursor)
        statement = statement.where(
            tuple_(User.created_at, User.id) < tuple_(after.created_at, after.id)
        )
    users = list(await session.scalars(statement))
    next_cursor = None
    if len(users) > limit:
        users = users[:limit]
        next_cursor = encode_cursor(_Cursor(users[-1].created_at, users[-1].id))
    return UserPage(items=[profile_of(u) for u in users], next_cursor=next_cursor)


async def _user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def set_status(
    session: AsyncSession, clock: Clock, user_id: uuid.UUID, status: str, by: User
) -> User:
    user = await _user(session, user_id)
    if user.id == by.id:
        raise RuleViolated("you cannot suspend or reactivate yourself")
    if user.status != status:
        user.status = status
        user.updated_at = clock.now()
        if status == "suspended":
            await revoke_all_sessions(session, clock, user.id, "suspended")
        await append(
            session, UserStatusChanged(user_id=str(user.id), status=status, by=str(by.id)), clock
        )
    return user


#: Who changed a role when no signed-in admin did: an operator with ``boxoffice grant-admin``.
OPERATOR = "operator (command line)"


async def set_platform_role(
    session: AsyncSession, clock: Clock, user_id: uuid.UUID, role: str, by: User | None
) -> User:
    """Give ``user_id`` the platform role ``role``; ``by`` is the admin doing it (``None``:
    an operator on the command line). The change is journaled."""
    user = await _user(session, user_id)
    if by is not None and user.id == by.id and role != "admin":
        raise RuleViolated("you cannot remove your own admin role; ask another admin")
    if user.platform_role != role:
        user.platform_role = role
        user.updated_at = clock.now()
        changed_by = str(by.id) if by is not None else OPERATOR
        await append(
            session, PlatformRoleChanged(user_id=str(user.id), role=role, by=changed_by), clock
        )
    return user


async def grant_admin(session: AsyncSession, clock: Clock, email: str) -> User | None:
    """``boxoffice grant-admin``: the account with ``email`` becomes a platform admin
    (``None``: there is no such account)."""
    user = await find_user_by_email(session, email.strip().lower())
    if user is None:
        return None
    return await set_platform_role(session, clock, user.id, "admin", by=None)


async def statistics(session: AsyncSession, clock: Clock, days: int = 30) -> StatsOut:
    since = clock.now() - timedelta(days=days)
    users = int(await session.scalar(select(func.count()).select_from(User)) or 0)
    verified = int(
        await session.scalar(
            select(func.count()).select_from(User).where(User.email_verified_at.is_not(None))
        )
        or 0
    )
    suspended = int(
        await session.scalar(
            select(func.count()).select_from(User).where(User.status == "suspended")
        )
        or 0
    )
    organizations = int(await session.scalar(select(func.count()).select_from(Organization)) or 0)
    # Active: an organization that created or changed an event in the period.
    active = int(
        await session.scalar(
            select(func.count(distinct(Event.organization_id))).where(Event.updated_at >= since)
        )
        or 0
    )
    if session.get_bind().dialect.name == "postgresql":
        day = func.to_char(func.timezone("UTC", User.created_at), "YYYY-MM-DD")
    else:  # SQLite keeps UTC text, "YYYY-MM-DD HH:MM:SS..."
        day = func.substr(cast(User.created_at, String), 1, 10)
    rows = await session.execute(
        select(day, func.count()).where(User.created_at >= since).group_by(day).order_by(day)
    )
    return StatsOut(
        users=users,
        verified_ratio=round(verified / users, 4) if users else 0.0,
        suspended=suspended,
        organizations=organizations,
        active_organizations=active,
        signups_per_day=[SignupsPerDay(day=str(d), count=int(c)) for d, c in rows],
    )
