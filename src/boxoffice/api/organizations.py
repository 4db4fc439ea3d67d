"""Organizer side: organizations, members, invitations, API keys and event authoring.

Every route resolves the caller's membership (or API key) in the organization first: a
caller from elsewhere gets 404, a member whose role lacks the permission gets 403.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog import tickets
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.media import add_event_image, image_out, remove_event_image
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.schemas import (
    EventDraft,
    EventOut,
    ImageOut,
    QuotaIn,
    QuotaOut,
    SeriesOut,
    SeriesRule,
    StatusChange,
    TicketTypeIn,
    TicketTypeOut,
)
from boxoffice.core.catalog.series import create_series, events_of_series
from boxoffice.core.catalog.service import (
    category_slugs,
    change_status,
    create_event,
    event_out,
    get_event_of,
    list_events_of,
    update_event,
)
from boxoffice.core.errors import FieldError, NotFound, ProviderUnavailable, ValidationFailed
from boxoffice.core.identity import service
from boxoffice.core.identity.models import ApiKey, Invitation, Membership, Organization, User
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.identity.principal import Principal, authorize
from boxoffice.core.identity.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    InvitationOut,
    InviteIn,
    MemberOut,
    OrganizationIn,
    OrganizationOut,
    OrganizationUpdate,
    RoleIn,
    TokenIn,
)
from boxoffice.core.media.images import MAX_UPLOAD_BYTES
from boxoffice.core.media.store import MediaStore
from boxoffice.platform import Platform

OrgId = FromPath[uuid.UUID]


def organization_out(organization: Organization, role: str | None = None) -> OrganizationOut:
    return OrganizationOut(
        id=organization.id,
        slug=organization.slug,
        name=organization.name,
        contact_email=organization.contact_email,
        created_at=organization.created_at,
        role=role,
    )


def invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=membership.role,
        joined_at=membership.created_at,
    )


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=key.scopes,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


async def organizer_event(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    permission: Permission,
) -> Event:
    """The organization's event, once the caller may act on it with ``permission``."""
    await authorize(session, principal, org_id, permission)
    return await get_event_of(session, org_id, event_id)


def _media_store(platform: Platform) -> MediaStore:
    store = platform.media_store
    if store is None:
        raise ProviderUnavailable("no media store is configured ([media] store in plugins.toml)")
    return store


class OrganizationsController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @post("/", status_code=201, summary="Create an organization; you become its owner")
    async def create(
        self,
        platform: NamedDependency[Platform],
        user: NamedDependency[User],
        data: JSONBody[OrganizationIn],
    ) -> OrganizationOut:
        async with platform.db.transaction() as session:
            fresh = await session.get(User, user.id)
            assert fresh is not None
            organization = await service.create_organization(
                session,
                platform.clock,
                slug=data.slug,
                name=data.name,
                contact_email=data.contact_email or "",
                owner=fresh,
            )
            return organization_out(organization, "owner")

    @get("/{org_id:uuid}", summary="An organization you belong to")
    async def read(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
    ) -> OrganizationOut:
        async with platform.db.read() as session:
            role = await authorize(session, principal, org_id, Permission.ORG_READ)
            organization = await service.get_organization(session, org_id)
            return organization_out(organization, role)

    @patch("/{org_id:uuid}", summary="Rename or change the contact address (owners)")
    async def update(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        data: JSONBody[OrganizationUpdate],
    ) -> OrganizationOut:
        async with platform.db.transaction() as session:
            role = await authorize(session, principal, org_id, Permission.ORG_MANAGE)
            return organization_out(await service.update_organization(session, org_id, data), role)

    # ---- members

    @get("/{org_id:uuid}/members", summary="Members and their roles")
    async def members(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
    ) -> list[MemberOut]:
        async with platform.db.read() as session:
            await authorize(session, principal, org_id, Permission.ORG_READ)
            return [member_out(m, u) for m, u in await service.members_of(session, org_id)]

    @patch("/{org_id:uuid}/members/{user_id:uuid}", summary="Change a member's role")
    async def change_role(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[RoleIn],
    ) -> MemberOut:
        async with platform.db.transaction() as session:
            role = await authorize(session, principal, org_id, Permission.MEMBERS_MANAGE)
            membership = await service.change_role(
                session, platform.clock, org_id, user_id, data.role, principal.require_user(), role
            )
            member = await session.get(User, user_id)
            assert member is not None
            return member_out(membership, member)

    @delete("/{org_id:uuid}/members/{user_id:uuid}", status_code=204, summary="Remove a member")
    async def remove(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        user_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            role = await authorize(session, principal, org_id, Permission.MEMBERS_MANAGE)
            await service.remove_member(
                session, platform.clock, org_id, user_id, principal.require_user(), role
            )

    # ---- invitations

    @post("/{org_id:uuid}/invitations", status_code=201, summary="Invite someone by e-mail")
    async def invite(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        data: JSONBody[InviteIn],
    ) -> InvitationOut:
        async with platform.db.transaction() as session:
            role = await authorize(session, principal, org_id, Permission.MEMBERS_MANAGE)
            organization = await service.get_organization(session, org_id)
            invitation = await service.invite(
                session,
                platform.clock,
                platform.auth_policy,
                organization,
                data.email,
                data.role,
                principal.require_user(),
                role,
            )
            return invitation_out(invitation)

    @get("/{org_id:uuid}/invitations", summary="Invitations, newest first")
    async def invitations(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
    ) -> list[InvitationOut]:
        async with platform.db.read() as session:
            await authorize(session, principal, org_id, Permission.MEMBERS_MANAGE)
            return [invitation_out(i) for i in await service.invitations_of(session, org_id)]

    @delete(
        "/{org_id:uuid}/invitations/{invitation_id:uuid}",
        status_code=204,
        summary="Withdraw an invitation",
    )
    async def revoke_invitation(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        invitation_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            await authorize(session, principal, org_id, Permission.MEMBERS_MANAGE)
            await service.revoke_invitation(session, platform.clock, org_id, invitation_id)

    @post("/invitations/accept", status_code=200, summary="Accept an invitation (signed in)")
    async def accept(
        self,
        platform: NamedDependency[Platform],
        user: NamedDependency[User],
        data: JSONBody[TokenIn],
    ) -> MemberOut:
        async with platform.db.transaction() as session:
            fresh = await session.get(User, user.id)
            assert fresh is not None
            membership = await service.accept_invitation(session, platform.clock, data.token, fresh)
            return member_out(membership, fresh)

    # ---- API keys

    @post("/{org_id:uuid}/api-keys", status_code=201, summary="Create an API key (shown once)")
    async def create_api_key(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        data: JSONBody[ApiKeyIn],
    ) -> ApiKeyCreatedOut:
        async with platform.db.transaction() as session:
            await authorize(session, principal, org_id, Permission.API_KEYS_MANAGE)
            key, row = await service.create_api_key(
                session, platform.clock, org_id, data.name, data.scopes, principal.require_user()
            )
            return ApiKeyCreatedOut(key=key, api_key=api_key_out(row))

    @get("/{org_id:uuid}/api-keys", summary="API keys (never the secret part)")
    async def api_keys(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
    ) -> list[ApiKeyOut]:
        async with platform.db.read() as session:
            await authorize(session, principal, org_id, Permission.API_KEYS_MANAGE)
            return [api_key_out(k) for k in await service.api_keys_of(session, org_id)]

    @delete("/{org_id:uuid}/api-keys/{key_id:uuid}", status_code=204, summary="Revoke an API key")
    async def revoke_api_key(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        key_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            await authorize(session, principal, org_id, Permission.API_KEYS_MANAGE)
            await service.revoke_api_key(
                session, platform.clock, org_id, key_id, principal.require_user()
            )

    # ---- events

    @post("/{org_id:uuid}/events", status_code=201, summary="Create an event (a draft)")
    async def create_event(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        data: JSONBody[EventDraft],
    ) -> EventOut:
        async with platform.db.transaction() as session:
            await authorize(session, principal, org_id, Permission.EVENTS_WRITE)
            event = await create_event(session, platform.clock, org_id, data)
            return await event_out(session, event, private=True)

    @get("/{org_id:uuid}/events", summary="All of the organization's events, drafts included")
    async def events(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
    ) -> list[EventOut]:
        async with platform.db.read() as session:
            await authorize(session, principal, org_id, Permission.EVENTS_READ)
            return await list_events_of(session, org_id)

    @get("/{org_id:uuid}/events/{event_id:uuid}", summary="One of the organization's events")
    async def event(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
    ) -> EventOut:
        async with platform.db.read() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_READ
            )
            return await event_out(session, event, private=True, store=platform.media_store)

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/status",
        status_code=200,
        summary="Publish, postpone, cancel or complete an event",
    )
    async def event_status(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
    ) -> EventOut:
        try:
            target = EventStatus(data.status)
        except ValueError as error:
            raise ValidationFailed(
                "unknown status",
                errors=[FieldError("status", f"one of {', '.join(s.value for s in EventStatus)}")],
            ) from error
        async with platform.db.transaction() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.EVENTS_WRITE)
            event = await change_status(session, platform.clock, event_id, target)
            return await event_out(session, event, private=True)

    @put("/{org_id:uuid}/events/{event_id:uuid}", summary="Replace an event's details")
    async def update_event(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[EventDraft],
    ) -> EventOut:
        async with platform.db.transaction() as session:
            await authorize(session, principal, org_id, Permission.EVENTS_WRITE)
            event = await update_event(session, platform.clock, org_id, event_id, data)
            return await event_out(session, event, private=True)

    # ---- recurring series

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/series",
        status_code=201,
        summary="Repeat an event by a rule; each occurrence is an event of its own",
    )
    async def create_series(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[SeriesRule],
    ) -> SeriesOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            series, events = await create_series(session, platform.clock, event, data)
            slugs = await category_slugs(session)
            return SeriesOut(
                id=series.id,
                rule=series.rule,
                events=[EventOut.of(e, categories=slugs, private=True) for e in events],
            )

    @get("/{org_id:uuid}/series/{series_id:uuid}", summary="A series and its occurrences")
    async def series(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        series_id: FromPath[uuid.UUID],
    ) -> SeriesOut:
        async with platform.db.read() as session:
            await authorize(session, principal, org_id, Permission.EVENTS_READ)
            found, events = await events_of_series(session, org_id, series_id)
            if found is None:
                raise NotFound(f"no series {series_id} in this organization")
            slugs = await category_slugs(session)
            return SeriesOut(
                id=found.id,
                rule=found.rule,
                events=[EventOut.of(e, categories=slugs, private=True) for e in events],
            )

    # ---- pictures

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/images",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024,
        summary="Upload a picture (JPEG, PNG, WebP or GIF; re-encoded, thumbnails)",
    )
    async def upload_image(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: Annotated[UploadFile, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImageOut:
        store = _media_store(platform)
        content = await data.read()
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            image = await add_event_image(session, platform.clock, event, content, store)
            return image_out(image, store)

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/images/{image_id:uuid}",
        status_code=204,
        summary="Remove a picture",
    )
    async def delete_image(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        image_id: FromPath[uuid.UUID],
    ) -> None:
        store = _media_store(platform)
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            await remove_event_image(session, event, image_id, store)

    # ---- ticket types and quotas

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types",
        status_code=201,
        summary="Add a ticket type",
    )
    async def create_ticket_type(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[TicketTypeIn],
    ) -> TicketTypeOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            ticket_type = await tickets.create_ticket_type(session, platform.clock, event, data)
            return await tickets.organizer_view(session, ticket_type, platform.clock.now())

    @get("/{org_id:uuid}/events/{event_id:uuid}/ticket-types", summary="All ticket types")
    async def ticket_types(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
    ) -> list[TicketTypeOut]:
        async with platform.db.read() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.EVENTS_READ)
            return await tickets.ticket_types_of(
                session, event_id, platform.clock.now(), private=True
            )

    @put(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types/{ticket_type_id:uuid}",
        summary="Replace a ticket type",
    )
    async def update_ticket_type(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        ticket_type_id: FromPath[uuid.UUID],
        data: JSONBody[TicketTypeIn],
    ) -> TicketTypeOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            ticket_type = await tickets.update_ticket_type(
                session, platform.clock, event, ticket_type_id, data
            )
            return await tickets.organizer_view(session, ticket_type, platform.clock.now())

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types/{ticket_type_id:uuid}",
        status_code=204,
        summary="Delete a ticket type nothing was sold from",
    )
    async def delete_ticket_type(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        ticket_type_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            await tickets.delete_ticket_type(session, event, ticket_type_id)

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas",
        status_code=201,
        summary="Add a quota shared by one or more ticket types",
    )
    async def create_quota(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[QuotaIn],
    ) -> QuotaOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            quota = await tickets.create_quota(session, platform.clock, event, data)
            (one,) = await tickets.quotas_of(session, event.id, only=quota.id)
            return one

    @get("/{org_id:uuid}/events/{event_id:uuid}/quotas", summary="Quotas with their counts")
    async def quotas(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
    ) -> list[QuotaOut]:
        async with platform.db.read() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.EVENTS_READ)
            return await tickets.quotas_of(session, event_id)

    @put(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas/{quota_id:uuid}",
        summary="Change a quota (never below what is sold and held)",
    )
    async def update_quota(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        quota_id: FromPath[uuid.UUID],
        data: JSONBody[QuotaIn],
    ) -> QuotaOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            quota = await tickets.update_quota(session, event, quota_id, data)
            (one,) = await tickets.quotas_of(session, event.id, only=quota.id)
            return one

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas/{quota_id:uuid}",
        status_code=204,
        summary="Delete a quota with nothing sold or held",
    )
    async def delete_quota(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        quota_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            await tickets.delete_quota(session, event, quota_id)
