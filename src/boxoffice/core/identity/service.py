"""Organizations, their members, invitations and API keys."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    RuleViolated,
    ValidationFailed,
)
from boxoffice.core.fields import country
from boxoffice.core.identity.accounts import AuthPolicy
from boxoffice.core.identity.entries import (
    ApiKeyCreated,
    ApiKeyRevoked,
    MemberInvited,
    MemberJoined,
    MemberRemoved,
    MemberRoleChanged,
    OrganizationCreated,
)
from boxoffice.core.identity.models import ApiKey, Invitation, Membership, Organization, User
from boxoffice.core.identity.permissions import API_KEY_SCOPES, Role
from boxoffice.core.identity.principal import API_KEY_PREFIX
from boxoffice.core.identity.schemas import OrganizationUpdate, normalize_email
from boxoffice.core.identity.tokens import hash_secret, new_secret
from boxoffice.core.journal import append
from boxoffice.core.notify.service import queue_message

INVITATION_TTL = timedelta(days=7)


async def create_organization(
    session: AsyncSession,
    clock: Clock,
    *,
    slug: str,
    name: str,
    contact_email: str = "",
    owner: User | None = None,
) -> Organization:
    if owner is not None and owner.email_verified_at is None:
        raise RuleViolated("verify your e-mail address before creating an organization")
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(
            f"the slug {slug!r} is taken; choose another", errors=[FieldError("slug", "taken")]
        )
    organization = Organization(
        slug=slug,
        name=name,
        created_at=clock.now(),
        contact_email=contact_email or (owner.email if owner else ""),
    )
    session.add(organization)
    await session.flush()
    if owner is not None:
        session.add(
            Membership(
                organization_id=organization.id,
                user_id=owner.id,
                role=Role.OWNER,
                created_at=clock.now(),
            )
        )
    await append(
        session,
        OrganizationCreated(organization_id=str(organization.id), slug=slug, name=name),
        clock,
    )
    if owner is not None:
        await append(
            session,
            MemberJoined(
                organization_id=str(organization.id), user_id=str(owner.id), role=Role.OWNER
            ),
            clock,
        )
    await session.flush()
    return organization


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    """The account ``user_id`` as this transaction sees it (404 if it is gone); locked for
    the rest of the transaction with ``for_update``."""
    user = await session.get(User, user_id, with_for_update=for_update)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def find_organization(session: AsyncSession, slug: str) -> Organization | None:
    result: Organization | None = await session.scalar(
        select(Organization).where(Organization.slug == slug)
    )
    return result


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"no organization {organization_id}")
    return organization


async def organizations_of(session: AsyncSession, user: User) -> list[tuple[Organization, str]]:
    rows = await session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name, Organization.id)
    )
    return [(organization, role) for organization, role in rows]


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as error:
        raise ValidationFailed(
            "unknown role",
            errors=[FieldError("role", f"one of {', '.join(r.value for r in Role)}")],
        ) from error


def _may_grant(actor_role: Role | None, target: Role) -> None:
    if target is Role.OWNER and actor_role is not Role.OWNER:
        raise Forbidden("only an owner can make someone an owner")


async def invite(
    session: AsyncSession,
    clock: Clock,
    policy: AuthPolicy,
    organization: Organization,
    email: str,
    role: str,
    inviter: User,
    inviter_role: Role | None,
) -> Invitation:
    address = normalize_email(email)
    target = _role(role)
    _may_grant(inviter_role, target)
    member = await session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization.id, User.email == address)
    )
    if member is not None:
        raise Conflict(f"{address} is a member already")
    now = clock.now()
    await session.execute(
        update(Invitation)
        .where(
            Invitation.organization_id == organization.id,
            Invitation.email == address,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = new_secret("inv")
    invitation = Invitation(
        organization_id=organization.id,
        email=address,
        role=target,
        token_hash=hash_secret(token),
        invited_by=inviter.id,
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    link = policy.link("/account/accept-invitation", token)
    await queue_message(
        session,
        clock,
        kind="email",
        to=address,
        template="organization-invitation",
        locale=inviter.locale,
        context={
            "inviter": inviter.name or inviter.email,
            "organization": organization.name,
            "role": target,
            "link": link,
        },
    )
    await append(
        session,
        MemberInvited(
            organization_id=str(organization.id),
            invitation_id=str(invitation.id),
            role=target,
            by=str(inviter.id),
        ),
        clock,
    )
    return invitation


async def accept_invitation(
    session: AsyncSession, clock: Clock, token: str, user: User
) -> Membership:
    now = clock.now()
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_secret(token)).with_for_update()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise RuleViolated(
            "this invitation is invalid, expired or already used",
            errors=[FieldError("token", "invalid, expired or already used")],
        )
    if user.email_verified_at is None or user.email != invitation.email:
        raise Forbidden(
            "this invitation was sent to another e-mail address; sign in with that "
            "address (verified) to accept it"
        )
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
        .returning(Invitation.id)
    )
    if claimed.scalar_one_or_none() is None:
        raise RuleViolated("this invitation is already used")
    existing = await session.get(Membership, (invitation.organization_id, user.id))
    if existing is not None:
        raise Conflict("you are a member already")
    membership = Membership(
        organization_id=invitation.organization_id,
        user_id=user.id,
        role=invitation.role,
        created_at=now,
    )
    session.add(membership)
    await append(
        session,
        MemberJoined(
            organization_id=str(invitation.organization_id),
            user_id=str(user.id),
            role=invitation.role,
        ),
        clock,
    )
    await session.flush()
    return membership


async def invitations_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Invitation]:
    return list(
        await session.scalars(
            select(Invitation)
            .where(Invitation.organization_id == organization_id)
            .order_by(Invitation.created_at.desc(), Invitation.id)
        )
    )


async def revoke_invitation(
    session: AsyncSession, clock: Clock, organization_id: uuid.UUID, invitation_id: uuid.UUID
) -> None:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != organization_id:
        raise NotFound(f"no invitation {invitation_id}")
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = clock.now()


async def members_of(
    session: AsyncSession, organization_id: uuid.UUID
) -> list[tuple[Membership, User]]:
    rows = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id)
        .order_by(Membership.created_at, User.id)
    )
    return [(m, u) for m, u in rows]


async def _member(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    membership = await session.get(Membership, (organization_id, user_id), with_for_update=True)
    if membership is None:
        raise NotFound(f"no member {user_id} in this organization")
    return membership


async def _owners(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == organization_id, Membership.role == Role.OWNER)
        )
        or 0
    )


async def change_role(
    session: AsyncSession,
    clock: Clock,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    actor: User,
    actor_role: Role | None,
) -> Membership:
    target = _role(role)
    membership = await _member(session, organization_id, user_id)
    if Role(membership.role) is Role.OWNER or target is Role.OWNER:
        _may_grant(actor_role, Role.OWNER)
    if (
        Role(membership.role) is Role.OWNER
        and target is not Role.OWNER
        and await _owners(session, organization_id) <= 1
    ):
        raise RuleViolated(
            "an organization keeps at least one owner: make someone else owner first"
        )
    membership.role = target
    await append(
        session,
        MemberRoleChanged(
            organization_id=str(organization_id),
            user_id=str(user_id),
            role=target,
            by=str(actor.id),
        ),
        clock,
    )
    return membership


async def remove_member(
    session: AsyncSession,
    clock: Clock,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: User,
    actor_role: Role | None,
) -> None:
    membership = await _member(session, organization_id, user_id)
    if Role(membership.role) is Role.OWNER:
        _may_grant(actor_role, Role.OWNER)
        if await _owners(session, organization_id) <= 1:
            raise RuleViolated("an organization keeps at least one owner")
    await session.delete(membership)
    await append(
        session,
        MemberRemoved(organization_id=str(organization_id), user_id=str(user_id), by=str(actor.id)),
        clock,
    )


async def create_api_key(
    session: AsyncSession,
    clock: Clock,
    organization_id: uuid.UUID,
    name: str,
    scopes: list[str],
    by: User,
) -> tuple[str, ApiKey]:
    unknown = sorted(set(scopes) - {str(s) for s in API_KEY_SCOPES})
    if unknown:
        raise ValidationFailed(
            "unknown or unavailable scopes",
            errors=[
                FieldError(
                    "scopes",
                    f"not allowed: {', '.join(unknown)}; choose from "
                    f"{', '.join(sorted(API_KEY_SCOPES))}",
                )
            ],
        )
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_hex(24)}"
    row = ApiKey(
        organization_id=organization_id,
        name=name,
        prefix=prefix,
        key_hash=hash_secret(key),
        scopes=sorted(set(scopes)),
        created_by=by.id,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await append(
        session,
        ApiKeyCreated(
            organization_id=str(organization_id),
            api_key_id=str(row.id),
            scopes=row.scopes,
            by=str(by.id),
        ),
        clock,
    )
    return key, row


async def api_keys_of(session: AsyncSession, organization_id: uuid.UUID) -> list[ApiKey]:
    return list(
        await session.scalars(
            select(ApiKey)
            .where(ApiKey.organization_id == organization_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


async def revoke_api_key(
    session: AsyncSession, clock: Clock, organization_id: uuid.UUID, key_id: uuid.UUID, by: User
) -> None:
    key = await session.get(ApiKey, key_id)
    if key is None or key.organization_id != organization_id:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await append(
            session,
            ApiKeyRevoked(
                organization_id=str(organization_id), api_key_id=str(key.id), by=str(by.id)
            ),
            clock,
        )


async def update_organization(
    session: AsyncSession, organization_id: uuid.UUID, change: OrganizationUpdate
) -> Organization:
    organization = await session.get(Organization, organization_id, with_for_update=True)
    if organization is None:
        raise NotFound(f"no organization {organization_id}")
    if not isinstance(change.name, msgspec.UnsetType):
        organization.name = change.name
    if not isinstance(change.contact_email, msgspec.UnsetType):
        organization.contact_email = normalize_email(change.contact_email, "contact_email")
    if not isinstance(change.legal_address, msgspec.UnsetType):
        organization.legal_address = change.legal_address.strip()
    if not isinstance(change.country, msgspec.UnsetType):
        try:
            organization.country = country(change.country)
        except ValueError as error:
            raise ValidationFailed(
                str(error), errors=[FieldError("country", str(error))]
            ) from error
    if not isinstance(change.tax_id, msgspec.UnsetType):
        organization.tax_id = change.tax_id.upper()
    return organization
