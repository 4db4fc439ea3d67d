"""Organizer side: organizations, members, invitations, API keys and event authoring.

Every route under an organization names the permission it needs (``opt=needs(...)``) and
asks for ``role`` or ``event`` (:mod:`boxoffice.api.deps`): the caller's membership (or API
key) is resolved first, so a caller from elsewhere gets 404 and a member whose role lacks
the permission 403, before the handler runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.api.readcache import invalidating_public_reads
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
    list_events_of,
    update_event,
)
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import RegionLookup
from boxoffice.core.errors import FieldError, NotFound, ProviderUnavailable, ValidationFailed
from boxoffice.core.identity import service
from boxoffice.core.identity.accounts import AuthPolicy
from boxoffice.core.identity.models import ApiKey, Invitation, Membership, User
from boxoffice.core.identity.permissions import Permission, Role
from boxoffice.core.identity.principal import Principal
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
from boxoffice.core.invoices.service import BillingCheck, billing_check
from boxoffice.core.media.images import MAX_UPLOAD_BYTES
from boxoffice.core.media.store import MediaStore

OrgId = FromPath[uuid.UUID]


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


@dataclass
class PictureForm:
    """A picture upload: the multipart form's ``data`` part (a form without one is a 400
    naming the field, after the caller's authorization)."""

    data: UploadFile


def _required(store: MediaStore | None) -> MediaStore:
    if store is None:
        raise ProviderUnavailable("no media store is configured ([media] store in plugins.toml)")
    return store


def series_out(
    series_id: uuid.UUID, rule: str, events: list[Event], slugs: dict[uuid.UUID, str]
) -> SeriesOut:
    return SeriesOut(
        id=series_id,
        rule=rule,
        events=[EventOut.of(e, categories=slugs, private=True) for e in events],
    )


class OrganizationsController(Controller):
    cache_control = PRIVATE
    # Their writes change what the public reads show: shown at once in this process.
    middleware = [invalidating_public_reads]
    path = "/organizations"
    tags = ["organizations"]

    @post("/", status_code=201, summary="Create an organization; you become its owner")
    async def create(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        data: JSONBody[OrganizationIn],
    ) -> OrganizationOut:
        organization = await service.create_organization(
            session,
            clock,
            slug=data.slug,
            name=data.name,
            contact_email=data.contact_email or "",
            owner=await service.get_user(session, user.id),
        )
        return OrganizationOut.of(organization, "owner")

    @get("/{org_id:uuid}", opt=needs(Permission.ORG_READ), summary="An organization you belong to")
    async def read(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
    ) -> OrganizationOut:
        return OrganizationOut.of(await service.get_organization(session, org_id), role)

    @patch(
        "/{org_id:uuid}",
        opt=needs(Permission.ORG_MANAGE),
        summary="Rename or change the contact address (owners)",
    )
    async def update(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        data: JSONBody[OrganizationUpdate],
    ) -> OrganizationOut:
        return OrganizationOut.of(await service.update_organization(session, org_id, data), role)

    @get(
        "/{org_id:uuid}/billing",
        opt=needs(Permission.ORG_READ),
        summary="What the regions you sell in require of your invoices, and what is missing",
        description="For each region of the organization's events still to be held: the "
        "seller's fields its invoices must carry (``requires``) and those the organization "
        "has not given (``missing``; set them with PATCH on the organization). Invoices are "
        "issued anyway and list what they lack.",
    )
    async def billing(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        regions: NamedDependency[RegionLookup],
        org_id: OrgId,
    ) -> BillingCheck:
        return await billing_check(session, org_id, regions)

    # ---- members

    @get("/{org_id:uuid}/members", opt=needs(Permission.ORG_READ), summary="Members and roles")
    async def members(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
    ) -> list[MemberOut]:
        return [member_out(m, u) for m, u in await service.members_of(session, org_id)]

    @patch(
        "/{org_id:uuid}/members/{user_id:uuid}",
        opt=needs(Permission.MEMBERS_MANAGE),
        summary="Change a member's role",
    )
    async def change_role(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[RoleIn],
    ) -> MemberOut:
        membership = await service.change_role(
            session, clock, org_id, user_id, data.role, principal.require_user(), role
        )
        return member_out(membership, await service.get_user(session, user_id))

    @delete(
        "/{org_id:uuid}/members/{user_id:uuid}",
        status_code=204,
        opt=needs(Permission.MEMBERS_MANAGE),
        summary="Remove a member",
    )
    async def remove(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        user_id: FromPath[uuid.UUID],
    ) -> None:
        await service.remove_member(session, clock, org_id, user_id, principal.require_user(), role)

    # ---- invitations

    @post(
        "/{org_id:uuid}/invitations",
        status_code=201,
        opt=needs(Permission.MEMBERS_MANAGE),
        summary="Invite someone by e-mail",
    )
    async def invite(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        auth_policy: NamedDependency[AuthPolicy],
        principal: NamedDependency[Principal],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        data: JSONBody[InviteIn],
    ) -> InvitationOut:
        invitation = await service.invite(
            session,
            clock,
            auth_policy,
            await service.get_organization(session, org_id),
            data.email,
            data.role,
            principal.require_user(),
            role,
        )
        return invitation_out(invitation)

    @get(
        "/{org_id:uuid}/invitations",
        opt=needs(Permission.MEMBERS_MANAGE),
        summary="Invitations, newest first",
    )
    async def invitations(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
    ) -> list[InvitationOut]:
        return [invitation_out(i) for i in await service.invitations_of(session, org_id)]

    @delete(
        "/{org_id:uuid}/invitations/{invitation_id:uuid}",
        status_code=204,
        opt=needs(Permission.MEMBERS_MANAGE),
        summary="Withdraw an invitation",
    )
    async def revoke_invitation(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        invitation_id: FromPath[uuid.UUID],
    ) -> None:
        await service.revoke_invitation(session, clock, org_id, invitation_id)

    @post("/invitations/accept", status_code=200, summary="Accept an invitation (signed in)")
    async def accept(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        data: JSONBody[TokenIn],
    ) -> MemberOut:
        fresh = await service.get_user(session, user.id)
        membership = await service.accept_invitation(session, clock, data.token, fresh)
        return member_out(membership, fresh)

    # ---- API keys

    @post(
        "/{org_id:uuid}/api-keys",
        status_code=201,
        opt=needs(Permission.API_KEYS_MANAGE),
        summary="Create an API key (shown once)",
    )
    async def create_api_key(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        data: JSONBody[ApiKeyIn],
    ) -> ApiKeyCreatedOut:
        key, row = await service.create_api_key(
            session, clock, org_id, data.name, data.scopes, principal.require_user()
        )
        return ApiKeyCreatedOut(key=key, api_key=api_key_out(row))

    @get(
        "/{org_id:uuid}/api-keys",
        opt=needs(Permission.API_KEYS_MANAGE),
        summary="API keys (never the secret part)",
    )
    async def api_keys(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
    ) -> list[ApiKeyOut]:
        return [api_key_out(k) for k in await service.api_keys_of(session, org_id)]

    @delete(
        "/{org_id:uuid}/api-keys/{key_id:uuid}",
        status_code=204,
        opt=needs(Permission.API_KEYS_MANAGE),
        summary="Revoke an API key",
    )
    async def revoke_api_key(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        key_id: FromPath[uuid.UUID],
    ) -> None:
        await service.revoke_api_key(session, clock, org_id, key_id, principal.require_user())

    # ---- events

    @post(
        "/{org_id:uuid}/events",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Create an event (a draft)",
    )
    async def create_event(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        regions: NamedDependency[RegionLookup],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        data: JSONBody[EventDraft],
    ) -> EventOut:
        event = await create_event(session, clock, org_id, data, regions=regions)
        return await event_out(session, event, private=True)

    @get(
        "/{org_id:uuid}/events",
        opt=needs(Permission.EVENTS_READ),
        summary="All of the organization's events, drafts included",
    )
    async def events(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
    ) -> list[EventOut]:
        return await list_events_of(session, org_id)

    @get(
        "/{org_id:uuid}/events/{event_id:uuid}",
        opt=needs(Permission.EVENTS_READ),
        summary="One of the organization's events",
    )
    async def event(
        self,
        session: NamedDependency[AsyncSession],
        media_store: NamedDependency[MediaStore | None],
        event: NamedDependency[Event],
    ) -> EventOut:
        return await event_out(session, event, private=True, store=media_store)

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/status",
        status_code=200,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Publish, postpone, cancel or complete an event",
    )
    async def event_status(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        regions: NamedDependency[RegionLookup],
        event: NamedDependency[Event],
        data: JSONBody[StatusChange],
    ) -> EventOut:
        try:
            target = EventStatus(data.status)
        except ValueError as error:
            raise ValidationFailed(
                "unknown status",
                errors=[FieldError("status", f"one of {', '.join(s.value for s in EventStatus)}")],
            ) from error
        changed = await change_status(session, clock, event.id, target, regions=regions)
        return await event_out(session, changed, private=True)

    @put(
        "/{org_id:uuid}/events/{event_id:uuid}",
        opt=needs(Permission.EVENTS_WRITE),
        summary="Replace an event's details",
    )
    async def update_event(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        regions: NamedDependency[RegionLookup],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[EventDraft],
    ) -> EventOut:
        event = await update_event(session, clock, org_id, event_id, data, regions=regions)
        return await event_out(session, event, private=True)

    # ---- recurring series

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/series",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Repeat an event by a rule; each occurrence is an event of its own",
    )
    async def create_series(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[SeriesRule],
    ) -> SeriesOut:
        series, events = await create_series(session, clock, event, data)
        return series_out(series.id, series.rule, events, await category_slugs(session))

    @get(
        "/{org_id:uuid}/series/{series_id:uuid}",
        opt=needs(Permission.EVENTS_READ),
        summary="A series and its occurrences",
    )
    async def series(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: OrgId,
        series_id: FromPath[uuid.UUID],
    ) -> SeriesOut:
        found, events = await events_of_series(session, org_id, series_id)
        if found is None:
            raise NotFound(f"no series {series_id} in this organization")
        return series_out(found.id, found.rule, events, await category_slugs(session))

    # ---- pictures

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/images",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Upload a picture (JPEG, PNG, WebP or GIF; re-encoded, thumbnails)",
    )
    async def upload_image(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        media_store: NamedDependency[MediaStore | None],
        event: NamedDependency[Event],
        data: Annotated[PictureForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImageOut:
        store = _required(media_store)
        image = await add_event_image(session, clock, event, await data.data.read(), store)
        return image_out(image, store)

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/images/{image_id:uuid}",
        status_code=204,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Remove a picture",
    )
    async def delete_image(
        self,
        session: NamedDependency[AsyncSession],
        media_store: NamedDependency[MediaStore | None],
        event: NamedDependency[Event],
        image_id: FromPath[uuid.UUID],
    ) -> None:
        await remove_event_image(session, event, image_id, _required(media_store))

    # ---- ticket types and quotas

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Add a ticket type",
    )
    async def create_ticket_type(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[TicketTypeIn],
    ) -> TicketTypeOut:
        ticket_type = await tickets.create_ticket_type(session, clock, event, data)
        return await tickets.organizer_view(session, ticket_type, clock.now())

    @get(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types",
        opt=needs(Permission.EVENTS_READ),
        summary="All ticket types",
    )
    async def ticket_types(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
    ) -> list[TicketTypeOut]:
        return await tickets.ticket_types_of(session, event.id, clock.now(), private=True)

    @put(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types/{ticket_type_id:uuid}",
        opt=needs(Permission.EVENTS_WRITE),
        summary="Replace a ticket type",
    )
    async def update_ticket_type(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        ticket_type_id: FromPath[uuid.UUID],
        data: JSONBody[TicketTypeIn],
    ) -> TicketTypeOut:
        ticket_type = await tickets.update_ticket_type(session, clock, event, ticket_type_id, data)
        return await tickets.organizer_view(session, ticket_type, clock.now())

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/ticket-types/{ticket_type_id:uuid}",
        status_code=204,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Delete a ticket type nothing was sold from",
    )
    async def delete_ticket_type(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        ticket_type_id: FromPath[uuid.UUID],
    ) -> None:
        await tickets.delete_ticket_type(session, event, ticket_type_id)

    @post(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Add a quota shared by one or more ticket types",
    )
    async def create_quota(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[QuotaIn],
    ) -> QuotaOut:
        quota = await tickets.create_quota(session, clock, event, data)
        (one,) = await tickets.quotas_of(session, event.id, only=quota.id)
        return one

    @get(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas",
        opt=needs(Permission.EVENTS_READ),
        summary="Quotas with their counts",
    )
    async def quotas(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[QuotaOut]:
        return await tickets.quotas_of(session, event.id)

    @put(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas/{quota_id:uuid}",
        opt=needs(Permission.EVENTS_WRITE),
        summary="Change a quota (never below what is sold and held)",
    )
    async def update_quota(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        quota_id: FromPath[uuid.UUID],
        data: JSONBody[QuotaIn],
    ) -> QuotaOut:
        quota = await tickets.update_quota(session, event, quota_id, data)
        (one,) = await tickets.quotas_of(session, event.id, only=quota.id)
        return one

    @delete(
        "/{org_id:uuid}/events/{event_id:uuid}/quotas/{quota_id:uuid}",
        status_code=204,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Delete a quota with nothing sold or held",
    )
    async def delete_quota(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        quota_id: FromPath[uuid.UUID],
    ) -> None:
        await tickets.delete_quota(session, event, quota_id)
